/**
 * Noticing that a chat shown in a JupyterLab tab (jupyterlab-sidecar) was closed.
 *
 * Closing a sidecar tab disposes its Lumino widget but does not remove the widget views inside it,
 * so anywidget's cleanup never runs. We watch the tab's node instead: when it leaves the document,
 * the view is gone and the kernel is told.
 */

const FIND_TRIES = 100;
const FIND_EVERY_MS = 100;

/** Call `onClosed` once when the sidecar tab holding `el` is closed; returns a function that stops watching. */
export function watchTabClose(el: HTMLElement, onClosed: () => void): () => void {
  let observer: MutationObserver | null = null;
  let timer: number | undefined;
  let tries = 0;

  const stop = (): void => {
    observer?.disconnect();
    observer = null;
    if (timer !== undefined) window.clearTimeout(timer);
    timer = undefined;
  };

  const find = (): void => {
    timer = undefined;
    if (!el.isConnected) {
      // not attached yet: the output area attaches the view after rendering it
      if (++tries < FIND_TRIES) timer = window.setTimeout(find, FIND_EVERY_MS);
      return;
    }
    const tab = el.closest(".jupyterlab-sidecar");
    const host = tab?.parentNode;
    if (!tab || !host) return; // a chat in a cell: anywidget's own cleanup covers it
    observer = new MutationObserver(() => {
      // Lumino moves a widget's node synchronously, so a node still detached here was closed.
      if (!tab.isConnected) {
        stop();
        onClosed();
      }
    });
    observer.observe(host, { childList: true });
  };

  find();
  return stop;
}
