/**
 * Which sessions have a chat view on screen, shared by every widget bundle in the page (through
 * `globalThis`), so the hub panel can tell whether a finished session was seen.
 */

interface Registry {
  visible: Map<string, Set<object>>;
}

const KEY = "__aiSessionsOnScreen";

function registry(): Registry {
  const g = globalThis as unknown as Record<string, Registry | undefined>;
  if (!g[KEY]) g[KEY] = { visible: new Map() };
  return g[KEY] as Registry;
}

/** Record whether the view `token` of `sessionId` is visible. */
export function setVisible(sessionId: string, token: object, visible: boolean): void {
  const map = registry().visible;
  for (const [id, set] of map) {
    if (id !== sessionId || !visible) set.delete(token);
    if (set.size === 0) map.delete(id);
  }
  if (visible && sessionId) {
    if (!map.has(sessionId)) map.set(sessionId, new Set());
    map.get(sessionId)?.add(token);
  }
}

export function isOnScreen(sessionId: string): boolean {
  return (registry().visible.get(sessionId)?.size ?? 0) > 0;
}

/** Track `el` with an IntersectionObserver; returns a function that stops tracking. */
export function trackVisibility(el: Element, sessionId: () => string): () => void {
  const token = {};
  if (typeof IntersectionObserver === "undefined") {
    setVisible(sessionId(), token, true);
    return () => setVisible("", token, false);
  }
  const observer = new IntersectionObserver((entries) => {
    const entry = entries[entries.length - 1];
    setVisible(sessionId(), token, entry.isIntersecting);
  });
  observer.observe(el);
  return () => {
    observer.disconnect();
    setVisible("", token, false);
  };
}
