/**
 * One animation frame of DOM work shared by every view in the page. Views queue their changes here
 * instead of writing on each kernel message: all writes run first, then all layout reads (scroll to
 * the bottom), so the page lays out once per frame however many chats stream and however many
 * messages arrived since the last frame. Writes stop once the frame has used its budget: views not
 * reached yet write in the next frame (first), so a frame stays short even when every chat renders.
 *
 * The queue lives on `globalThis` (like the visibility registry): chats of different builds in one page
 * (a page left open across an upgrade) run different copies of this module, and still share one frame.
 */

export interface FrameWork {
  /** Change the DOM (no layout reads). */
  write?(): void;
  /** Read layout after every view's writes; may set scroll positions (which do not invalidate layout). */
  measure?(): void;
}

interface Queue {
  due: Set<FrameWork>;
  scheduled: boolean;
  flush: () => void;
}

const KEY = "__aiSessionsFrame";
/** Milliseconds of writes after which the remaining views wait for the next frame. */
const BUDGET_MS = 4;

function queue(): Queue {
  const g = globalThis as unknown as Record<string, Queue | undefined>;
  g[KEY] ??= { due: new Set(), scheduled: false, flush: run };
  return g[KEY];
}

function run(): void {
  const q = queue();
  q.scheduled = false;
  const works = [...q.due];
  q.due.clear();
  const start = performance.now();
  let done = 0;
  while (done < works.length && (done === 0 || performance.now() - start < BUDGET_MS)) {
    const w = works[done++];
    guard(() => w.write?.());
  }
  if (done < works.length) {
    for (const w of works.slice(done)) requestFrame(w);
  }
  for (const w of works.slice(0, done)) guard(() => w.measure?.());
}

/** One view's error must not keep the others from rendering: report it and go on. */
function guard(step: () => void): void {
  try {
    step();
  } catch (error) {
    setTimeout(() => {
      throw error;
    });
  }
}

/** Run `work` in the next animation frame (once, however often it is requested before then). */
export function requestFrame(work: FrameWork): void {
  const q = queue();
  q.due.add(work);
  if (q.scheduled) return;
  q.scheduled = true;
  if (typeof requestAnimationFrame === "function") requestAnimationFrame(q.flush);
  else setTimeout(q.flush, 16);
}

/** Drop `work` from the next frame (a disposed view). */
export function cancelFrame(work: FrameWork): void {
  queue().due.delete(work);
}

/** Run the queued work now (the animation frame does this; tests call it). */
export function flushFrame(): void {
  queue().flush();
}
