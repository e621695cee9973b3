/**
 * The controls of one message beyond Copy: the branch switcher, Edit (your messages: the text goes back in
 * an editor in place, saving asks again from there on a new branch), Delete (with Undo, see
 * chat_extras.ts), Retry on a failed reply, the attachments it carries, and its details (time, latency to
 * the first token, tokens, cost, model) shown on hover or focus and in a Details toggle.
 */

import { BranchSwitch } from "./branch_switch";
import { messageDetails, detailsLine } from "./details";
import { button, h } from "./dom";
import { userParts } from "./parts";
import { setInnerTabbable } from "./roving";
import type { MessageView } from "./message_view";
import type { MessageData, ModelOption } from "./protocol";

export interface MessageHandlers {
  edit(messageId: string, text: string): void;
  delete(messageId: string): void;
  retry(messageId: string): void;
  checkout(messageId: string): void;
}

export class MessageTools {
  private readonly branch: BranchSwitch;
  private readonly editButton: HTMLButtonElement | null;
  private readonly deleteButton: HTMLButtonElement;
  private readonly retryButton: HTMLButtonElement;
  /** The details line and toggle: built when the message is first pointed at or focused (null until then). */
  private meta: { line: HTMLElement; summary: HTMLElement; list: HTMLElement } | null = null;
  private message: MessageData | null = null;
  private models: readonly ModelOption[] = [];
  private editing = false;
  private signature = "";

  constructor(
    private readonly view: MessageView,
    private readonly handlers: MessageHandlers,
  ) {
    this.branch = new BranchSwitch((id) => handlers.checkout(id));
    view.headSlot.appendChild(this.branch.el);
    this.editButton = view.el.dataset.role === "user"
      ? button("Edit", "Edit message", () => this.startEdit(), "ais-quiet ais-message-tool")
      : null;
    this.deleteButton = button("Delete", "Delete message", () => this.message && handlers.delete(this.message.id), "ais-quiet ais-message-tool");
    view.toolSlot.append(...(this.editButton ? [this.editButton] : []), this.deleteButton);
    this.retryButton = button("↻ Retry", "Retry", () => this.message && handlers.retry(this.message.id), "ais-retry");
    this.retryButton.hidden = true;
    view.footSlot.append(this.retryButton);
    // The details stay hidden (visibility: hidden, out of the accessibility tree) until the message is pointed
    // at or focused, so they are built then: Chromium takes about 1 ms to build the layout tree of a closed
    // <details>, and a chat holding 1,000 messages took ~3.5x as long to show with one per message.
    const build = (): void => {
      view.el.removeEventListener("pointerenter", build);
      view.el.removeEventListener("focusin", build);
      this.buildMeta();
    };
    view.el.addEventListener("pointerenter", build);
    view.el.addEventListener("focusin", build);
  }

  /** Show `m` (its number is the view's label). `busy`: a reply streams or the view is read-only. */
  update(m: MessageData, models: readonly ModelOption[], busy: boolean): void {
    this.message = m;
    this.models = models;
    const name = this.view.label || (m.role === "user" ? "message" : "reply");
    const signature = JSON.stringify([m.branch, m.status, m.usage, m.cost, m.timing, m.parts?.length, name, busy, m.completed_at]);
    if (signature === this.signature) return;
    this.signature = signature;
    this.branch.update(m.branch, name, busy);
    if (this.editButton) {
      this.editButton.setAttribute("aria-label", `Edit ${name}`);
      this.editButton.disabled = busy;
    }
    this.deleteButton.setAttribute("aria-label", `Delete ${name}`);
    this.deleteButton.disabled = busy || m.status === "streaming";
    this.retryButton.hidden = m.status !== "failed";
    this.retryButton.disabled = busy;
    this.retryButton.setAttribute("aria-label", `Retry ${name}`);
    this.renderMeta();
  }

  /** The details line (time, first token, tokens, cost) and the Details toggle with all of them. */
  private buildMeta(): void {
    if (this.meta) return;
    const line = h("span", { class: "ais-meta-line" });
    const summary = h("summary", { text: "Details" });
    const list = h("dl", { class: "ais-details-list" });
    const details = h("details", { class: "ais-details" }, summary, list);
    details.hidden = this.view.el.dataset.role === "user"; // your messages show their time only
    this.meta = { line, summary, list };
    this.view.footSlot.append(h("div", { class: "ais-meta" }, line, details));
    this.renderMeta();
    setInnerTabbable(this.view.el, this.view.el.tabIndex === 0); // the log's one tab stop (roving.ts)
  }

  private renderMeta(): void {
    const m = this.message;
    if (!this.meta || !m) return;
    const name = this.view.label || (m.role === "user" ? "message" : "reply");
    this.meta.line.textContent = detailsLine(m);
    this.meta.summary.setAttribute("aria-label", `Details of ${name}`);
    this.meta.list.replaceChildren(...messageDetails(m, this.models).flatMap((d) => [h("dt", { text: d.label }), h("dd", { text: d.value })]));
  }

  /** Put the message's text in an editor in place: Enter (or Save) asks again from it, Escape cancels. */
  private startEdit(): void {
    const m = this.message;
    if (!m || this.editing) return;
    this.editing = true;
    const name = this.view.label || "message";
    const area = h("textarea", { class: "ais-input ais-edit-input", attrs: { "aria-label": `New text of ${name}`, rows: "3", "data-lm-suppress-shortcuts": "true" } });
    const own = userParts(m.parts, m.content).text; // the question only: attachments and context stay as they are
    area.value = own;
    const done = (): void => {
      this.editing = false;
      this.view.setEditor(null);
      this.editButton?.focus();
    };
    const save = (): void => {
      const text = area.value.trim();
      if (!text || text === own.trim()) return done();
      this.editing = false;
      this.view.setEditor(null);
      this.handlers.edit(m.id, text);
    };
    area.addEventListener("keydown", (e) => {
      e.stopPropagation(); // keep JupyterLab's shortcuts out of the editor
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        save();
      } else if (e.key === "Escape") {
        e.preventDefault();
        done();
      }
    });
    const editor = h("div", { class: "ais-editor" }, area,
      h("div", { class: "ais-editor-actions" },
        button("Save and ask again", "Save and ask again", save, "ais-primary"),
        button("Cancel", "Cancel editing", done, "ais-quiet")));
    this.view.setEditor(editor);
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }
}
