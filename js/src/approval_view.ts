/**
 * Approval cards: a tool call whose policy is `ask` waits for the user here, above the message box. A
 * card names the tool, shows its arguments (code highlighted in its language) and offers **Approve**,
 * **Deny** and "Always allow in this session" (a checkbox that applies with Approve).
 *
 * When a card appears, focus moves to it (the card itself, not a button: an Enter meant for the message
 * box must not approve anything) if the user is in this chat or nowhere in particular; Tab reaches its
 * controls. After an answer, focus returns to the message box.
 */

import { button, h } from "./dom";
import type { MarkdownRenderer } from "./markdown";
import { argumentBlocks, fenced } from "./parts";
import type { ApprovalData } from "./protocol";

export type Answer = (callId: string, approved: boolean, always: boolean) => void;

export class ApprovalView {
  readonly el: HTMLElement;
  private readonly cards = new Map<string, HTMLElement>();
  /** Calls answered here: hidden at once, before the kernel confirms. */
  private readonly answered = new Set<string>();

  constructor(
    private readonly md: MarkdownRenderer,
    private readonly answer: Answer,
    /** Where focus goes after an answer (the message box). */
    private readonly after: () => HTMLElement | null,
  ) {
    this.el = h("div", { class: "ais-approvals" });
    this.el.hidden = true;
  }

  /** Show the calls waiting (the `approvals` trait); `enabled`: the kernel can hear an answer. */
  update(approvals: readonly ApprovalData[], enabled: boolean): ApprovalData[] {
    const fresh: ApprovalData[] = [];
    const waiting = approvals.filter((a) => !this.answered.has(a.call_id));
    const ids = new Set(waiting.map((a) => a.call_id));
    for (const [id, card] of this.cards) {
      if (!ids.has(id)) {
        card.remove();
        this.cards.delete(id);
      }
    }
    for (const id of Array.from(this.answered)) if (!approvals.some((a) => a.call_id === id)) this.answered.delete(id);
    for (const approval of waiting) {
      let card = this.cards.get(approval.call_id);
      if (!card) {
        card = this.card(approval);
        this.cards.set(approval.call_id, card);
        this.el.appendChild(card);
        fresh.push(approval);
      }
      for (const control of Array.from(card.querySelectorAll<HTMLButtonElement | HTMLInputElement>("button, input"))) {
        control.disabled = !enabled;
      }
    }
    this.el.hidden = this.cards.size === 0;
    const first = fresh[0] && this.cards.get(fresh[0].call_id);
    if (first && this.mayTakeFocus()) first.focus();
    return fresh;
  }

  private mayTakeFocus(): boolean {
    const active = document.activeElement;
    const chat = this.el.closest(".ais-chat");
    return !active || active === document.body || (chat !== null && chat.contains(active));
  }

  private card(approval: ApprovalData): HTMLElement {
    const titleId = `ais-approval-${approval.call_id.replace(/[^\w-]/g, "")}-${Math.random().toString(36).slice(2, 8)}`;
    const title = h("div", { class: "ais-approval-title", attrs: { id: titleId } },
      "The model wants to call ", h("code", { class: "ais-inline-code", text: approval.name }),
      approval.source && approval.source !== "python" ? ` (${approval.source})` : "");
    const args = h("div", { class: "ais-approval-args" });
    for (const block of argumentBlocks(approval.arguments)) {
      const row = h("div", { class: "ais-tool-argument" }, h("span", { class: "ais-tool-arg-name", text: block.name }));
      if (block.lang) {
        const code = h("div", { class: "ais-block" });
        code.innerHTML = this.md.render(fenced(block.text, block.lang));
        row.appendChild(code);
      } else {
        row.appendChild(h("pre", { class: "ais-part-text", text: block.text }));
      }
      args.appendChild(row);
    }
    const always = h("input", { attrs: { type: "checkbox" } });
    const alwaysLabel = h("label", { class: "ais-approval-always" }, always, " Always allow in this session");
    const decide = (approved: boolean): void => {
      const hadFocus = card.contains(document.activeElement);
      this.answered.add(approval.call_id);
      card.remove();
      this.cards.delete(approval.call_id);
      this.el.hidden = this.cards.size === 0;
      this.answer(approval.call_id, approved, approved && always.checked);
      if (hadFocus) (this.el.querySelector<HTMLElement>(".ais-approval") ?? this.after())?.focus();
    };
    const approve = button("Approve", "Approve", () => decide(true), "ais-primary");
    const deny = button("Deny", "Deny", () => decide(false), "ais-danger");
    const card = h("div", {
      class: "ais-approval",
      attrs: { role: "group", "aria-labelledby": titleId, tabindex: "-1", "data-call-id": approval.call_id, "data-tool": approval.name },
    }, title, args, h("div", { class: "ais-approval-actions" }, approve, deny, alwaysLabel));
    card.addEventListener("keydown", (e) => e.stopPropagation()); // keep JupyterLab's shortcuts out
    return card;
  }
}
