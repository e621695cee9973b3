/**
 * The ‹ 2/3 › switcher of a message that has siblings (an edited question, a regenerated reply): its
 * buttons ("Previous branch", "Next branch") show the branch through the neighbouring sibling.
 */

import { button, h } from "./dom";
import type { BranchData } from "./protocol";

/** `2/3`: the message's place among its siblings, 1-based. */
export function branchText(branch: BranchData): string {
  return `${branch.index + 1}/${branch.count}`;
}

export class BranchSwitch {
  readonly el: HTMLElement;
  private readonly previous: HTMLButtonElement;
  private readonly next: HTMLButtonElement;
  private readonly text: HTMLElement;
  private branch: BranchData | null = null;

  constructor(onPick: (messageId: string) => void) {
    this.previous = button("‹", "Previous branch", () => this.branch?.previous && onPick(this.branch.previous), "ais-quiet ais-branch-step");
    this.next = button("›", "Next branch", () => this.branch?.next && onPick(this.branch.next), "ais-quiet ais-branch-step");
    this.text = h("span", { class: "ais-branch-text" });
    this.el = h("span", { class: "ais-branch", attrs: { role: "group" } }, this.previous, this.text, this.next);
    this.el.hidden = true;
  }

  /** Show `branch` (hide for a message without siblings); `name` is the message's ("message 2"). */
  update(branch: BranchData | null | undefined, name: string, disabled: boolean): void {
    this.branch = branch ?? null;
    this.el.hidden = !branch;
    if (!branch) return;
    this.text.textContent = branchText(branch);
    this.el.setAttribute("aria-label", `Branches of ${name}: ${branch.index + 1} of ${branch.count}`);
    this.previous.disabled = disabled || !branch.previous;
    this.next.disabled = disabled || !branch.next;
  }
}
