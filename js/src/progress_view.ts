/**
 * The inline progress bar in the chat header: while a reply streams, its state, elapsed time, tokens
 * and tokens/s; for a batch run, completed/total and the active item. Hidden when idle.
 */

import { h } from "./dom";
import { batchText, progressText } from "./format";
import { cancelFrame, requestFrame, type FrameWork } from "./frame";
import type { BatchData, ProgressData } from "./protocol";

export class ProgressView implements FrameWork {
  readonly el: HTMLElement;
  private readonly bar: HTMLElement;
  private readonly fill: HTMLElement;
  private readonly label: HTMLElement;
  private progress: ProgressData = {};
  private batch: BatchData = {};
  private tokens = 0;
  private timer: number | undefined;

  constructor() {
    this.fill = h("span", { class: "ais-progress-fill" });
    this.bar = h("span", { class: "ais-progress-track" }, this.fill);
    this.label = h("span", { class: "ais-progress-label" });
    this.el = h("div", { class: "ais-progress", attrs: { role: "progressbar", "aria-label": "Reply progress" } },
      this.bar, this.label);
    this.el.hidden = true;
  }

  update(progress: ProgressData, batch: BatchData, tokens: number): void {
    this.progress = progress;
    this.batch = batch;
    this.tokens = Math.max(tokens, progress.tokens ?? 0);
    const active = this.isActive();
    this.el.hidden = !active;
    if (active && this.timer === undefined && progress.state) {
      this.timer = window.setInterval(() => requestFrame(this), 250);
    } else if ((!active || !progress.state) && this.timer !== undefined) {
      window.clearInterval(this.timer);
      this.timer = undefined;
    }
    this.paint();
  }

  setTokens(tokens: number): void {
    if (tokens !== this.tokens) {
      this.tokens = tokens;
      this.paint();
    }
  }

  isActive(): boolean {
    return Boolean(this.progress.state) || (this.batch.total !== undefined && !this.batch.done);
  }

  dispose(): void {
    if (this.timer !== undefined) window.clearInterval(this.timer);
    this.timer = undefined;
    cancelFrame(this);
  }

  /** Frame work: the clock ticked. */
  write(): void {
    this.paint();
  }

  private paint(): void {
    if (this.el.hidden) return;
    const parts: string[] = [];
    const batch = batchText(this.batch);
    const p = this.progress;
    if (batch) parts.push(batch);
    if (p.state && p.started_at) {
      const now = Date.now() / 1000;
      parts.push(progressText({
        state: p.state,
        elapsed: now - p.started_at,
        tokens: this.tokens,
        streamingFor: p.first_token_at ? now - p.first_token_at : 0,
      }));
    }
    const text = parts.join(" — ");
    this.label.textContent = text;
    this.el.setAttribute("aria-valuetext", text);
    this.el.dataset.state = p.state ?? "batch";
    const total = this.batch.total ?? 0;
    if (total > 0) {
      const done = (this.batch.completed ?? 0) + (this.batch.failed ?? 0);
      this.el.setAttribute("aria-valuemin", "0");
      this.el.setAttribute("aria-valuemax", String(total));
      this.el.setAttribute("aria-valuenow", String(done));
      this.bar.classList.remove("ais-indeterminate");
      this.fill.style.width = `${Math.min(100, (100 * done) / total)}%`;
    } else {
      for (const a of ["aria-valuemin", "aria-valuemax", "aria-valuenow"]) this.el.removeAttribute(a);
      this.bar.classList.add("ais-indeterminate");
      this.fill.style.width = "";
    }
  }
}
