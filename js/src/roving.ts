/**
 * The message log as one tab stop (a roving tabindex, as in the WAI-ARIA feed and grid patterns): one
 * message is in the tab order, ArrowUp/ArrowDown/Home/End move between messages, and Tab from a message
 * reaches that message's own controls (Copy, code block buttons, links) — but not those of the others.
 */

const ITEM = ":scope > .ais-message";
const INNER = "a[href], button, summary, [tabindex]";

/** Put the controls inside `item` in the tab order, or take them out (they stay clickable). */
export function setInnerTabbable(item: HTMLElement, on: boolean): void {
  const value = on ? "0" : "-1";
  for (const el of Array.from(item.querySelectorAll<HTMLElement>(INNER))) {
    if (el.getAttribute("tabindex") !== value) el.setAttribute("tabindex", value); // unchanged DOM stays untouched
  }
}

export class RovingLog {
  /** The message in the tab order; null: the last one (so the log follows new replies). */
  private current: HTMLElement | null = null;

  /** `log`: the element whose children are the messages. */
  constructor(private readonly log: HTMLElement) {
    log.addEventListener("keydown", (e) => this.onKey(e));
    log.addEventListener("focusin", (e) => {
      const item = (e.target as HTMLElement | null)?.closest<HTMLElement>(".ais-message");
      if (item && item.parentElement === log && item !== this.current) {
        this.current = item;
        this.refresh();
      }
    });
  }

  private items(): HTMLElement[] {
    return Array.from(this.log.querySelectorAll<HTMLElement>(ITEM));
  }

  /** After messages came or went: exactly one message (and its controls) in the tab order. */
  refresh(): void {
    const items = this.items();
    if (this.current && !items.includes(this.current)) this.current = null;
    const active = this.current ?? items[items.length - 1] ?? null;
    for (const item of items) {
      const on = item === active;
      if (item.getAttribute("tabindex") !== (on ? "0" : "-1")) item.setAttribute("tabindex", on ? "0" : "-1");
      setInnerTabbable(item, on);
    }
  }

  private onKey(e: KeyboardEvent): void {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const target = e.target as HTMLElement;
    const item = target.closest<HTMLElement>(".ais-message");
    if (!item || item.parentElement !== this.log) return;
    if (target !== item && !["BUTTON", "A", "SUMMARY"].includes(target.tagName)) return;
    const items = this.items();
    const index = items.indexOf(item);
    const next = { ArrowUp: index - 1, ArrowDown: index + 1, Home: 0, End: items.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    e.stopPropagation(); // keep JupyterLab's notebook shortcuts (arrows move between cells) out
    const to = items[Math.max(0, Math.min(items.length - 1, next))];
    if (!to) return;
    this.current = to;
    this.refresh();
    to.focus();
  }
}
