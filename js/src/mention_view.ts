/**
 * The `@` completion list of the message box: typing `@` asks the kernel for the user's variables (names,
 * types and shapes — never values) and lists those matching what follows the `@`.
 *
 * The list is a `listbox` the message box controls (`aria-controls`, `aria-autocomplete="list"`), and
 * the box points at the active option with `aria-activedescendant`, so focus stays in the box:
 * ArrowDown/ArrowUp move, Enter or Tab pick (`@name ` is written into the box), Escape closes. The
 * kernel answers only when it is free (or through a subshell), so the list may say it is waiting.
 */

import { h, uniqueId } from "./dom";
import { applyMention, filterRows, mentionAt, type MentionQuery, rowDetail } from "./mention";
import type { VariableRow } from "./protocol";

export class MentionList {
  readonly el: HTMLElement;
  private rows: VariableRow[] | null = null;
  private shown: VariableRow[] = [];
  private active = 0;
  private query: MentionQuery | null = null;
  private requestId = "";
  private readonly id = uniqueId("ais-mentions");

  constructor(
    private readonly input: HTMLTextAreaElement,
    /** Ask the kernel for the variables; the answer comes back through `answer()`. */
    private readonly ask: (requestId: string) => void,
  ) {
    this.el = h("ul", { class: "ais-mentions", attrs: { id: this.id, role: "listbox", "aria-label": "Variables" } });
    this.el.hidden = true;
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", this.id);
    input.addEventListener("input", () => this.follow());
    input.addEventListener("click", () => this.follow());
    input.addEventListener("blur", () => this.close());
  }

  get isOpen(): boolean {
    return !this.el.hidden;
  }

  /** The kernel's answer to a request: shown if it answers the latest one. */
  answer(requestId: string, rows: readonly VariableRow[]): void {
    if (requestId !== this.requestId) return;
    this.rows = [...rows];
    this.render();
  }

  /** Keys while the list is open; true if the key was ours. */
  onKey(e: KeyboardEvent): boolean {
    if (!this.isOpen) return false;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (this.shown.length) {
        const step = e.key === "ArrowDown" ? 1 : -1;
        this.active = (this.active + step + this.shown.length) % this.shown.length;
        this.render();
      }
    } else if ((e.key === "Enter" || e.key === "Tab") && !e.shiftKey) {
      if (!this.shown.length) return false;
      this.pick(this.shown[this.active]);
    } else if (e.key === "Escape") {
      this.close();
    } else {
      return false;
    }
    e.preventDefault();
    return true;
  }

  close(): void {
    if (this.el.hidden) return;
    this.el.hidden = true;
    this.query = null;
    this.input.removeAttribute("aria-activedescendant");
  }

  /** Open, update or close the list after the text or the caret changed. */
  private follow(): void {
    const m = this.input.selectionStart === this.input.selectionEnd
      ? mentionAt(this.input.value, this.input.selectionStart ?? 0) : null;
    if (!m) {
      this.close();
      return;
    }
    if (!this.query || this.query.start !== m.start) {
      // a new mention: ask again (variables come and go between messages)
      this.rows = null;
      this.requestId = uniqueId("vars");
      this.ask(this.requestId);
    }
    if (this.query?.query !== m.query) this.active = 0;
    this.query = m;
    this.render();
  }

  private pick(row: VariableRow): void {
    if (!this.query) return;
    const { text, caret } = applyMention(this.input.value, this.query, row.name);
    this.input.value = text;
    this.input.setSelectionRange(caret, caret);
    this.close();
    this.input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  private render(): void {
    if (!this.query) return;
    this.el.hidden = false;
    if (this.rows === null) {
      this.shown = [];
      this.el.replaceChildren(h("li", { class: "ais-mention-note", text: "Asking the kernel for variables…", attrs: { role: "option", "aria-disabled": "true" } }));
      this.input.removeAttribute("aria-activedescendant");
      return;
    }
    this.shown = filterRows(this.rows, this.query.query);
    if (!this.shown.length) {
      const text = this.rows.length ? `No variable starts with “${this.query.query}”` : "No variables defined yet";
      this.el.replaceChildren(h("li", { class: "ais-mention-note", text, attrs: { role: "option", "aria-disabled": "true" } }));
      this.input.removeAttribute("aria-activedescendant");
      return;
    }
    this.active = Math.min(this.active, this.shown.length - 1);
    this.el.replaceChildren(...this.shown.map((row, i) => {
      const option = h("li", {
        class: "ais-mention",
        attrs: { role: "option", id: `${this.id}-${i}`, "aria-selected": String(i === this.active) },
      }, h("span", { class: "ais-mention-name", text: row.name }), h("span", { class: "ais-mention-detail", text: rowDetail(row) }));
      option.addEventListener("mousedown", (e) => {
        e.preventDefault(); // keep focus in the box
        this.pick(row);
      });
      return option;
    }));
    const active = this.el.children[this.active] as HTMLElement | undefined;
    this.input.setAttribute("aria-activedescendant", `${this.id}-${this.active}`);
    active?.scrollIntoView?.({ block: "nearest" });
  }
}
