/**
 * Chats in JupyterLab tabs (jupyterlab-sidecar): whether this page can open one, where a view ended up,
 * and noticing that a tab was closed.
 *
 * Closing a sidecar tab disposes its Lumino widget but does not remove the widget views inside it,
 * so anywidget's cleanup never runs. We watch the tab's node instead: when it leaves the document,
 * the view is gone and the kernel is told.
 */

const FIND_TRIES = 100;
const FIND_EVERY_MS = 100;
const SIDECAR = ".jupyterlab-sidecar";

/**
 * Whether this page can show a sidecar tab: JupyterLab's main dock area exists. Jupyter Notebook 7
 * registers jupyterlab-sidecar's widgets too, but has no dock area and creates no view of them.
 */
export function canOpenTabs(doc: Document = document): boolean {
  return doc.getElementById("jp-main-dock-panel") !== null;
}

/**
 * Call `placed(tab)` once `el` is in the document, with the sidecar tab holding it (or null in a cell).
 * The output area attaches a view after rendering it. Returns a function that stops waiting.
 */
export function whenPlaced(el: HTMLElement, placed: (tab: Element | null) => void): () => void {
  let timer: number | undefined;
  let tries = 0;
  const find = (): void => {
    timer = undefined;
    if (el.isConnected) placed(el.closest(SIDECAR));
    else if (++tries < FIND_TRIES) timer = window.setTimeout(find, FIND_EVERY_MS);
  };
  find();
  return () => {
    if (timer !== undefined) window.clearTimeout(timer);
    timer = undefined;
  };
}

/** Call `onClosed` once when the sidecar tab holding `el` is closed; returns a function that stops watching. */
export function watchTabClose(el: HTMLElement, onClosed: () => void): () => void {
  let observer: MutationObserver | null = null;
  const stopWaiting = whenPlaced(el, (tab) => {
    const host = tab?.parentNode;
    if (!tab || !host) return; // a chat in a cell: anywidget's own cleanup covers it
    observer = new MutationObserver(() => {
      // Lumino moves a widget's node synchronously, so a node still detached here was closed.
      if (!tab.isConnected) {
        observer?.disconnect();
        onClosed();
      }
    });
    observer.observe(host, { childList: true });
  });
  return () => {
    stopWaiting();
    observer?.disconnect();
    observer = null;
  };
}
