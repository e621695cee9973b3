/**
 * The inline progress bar in the chat header: while a reply streams, its state, elapsed time, tokens
 * and tokens/s; while it waits to retry after a transient error, why and when ("rate limited — retrying
 * in 8 s (attempt 2 of 4)"); for a batch run, completed/total and the active item. Hidden when idle.
 */

import { h } from "./dom";
import { batchText, isBatch, isReplying, plainHint, progressText } from "./format";
import { cancelFrame, requestFrame, type FrameWork } from "./frame";
import type { BatchData, Empty, ProgressData } from "./protocol";

export class ProgressView implements FrameWork {
  readonly el: HTMLElement;
  private readonly bar: HTMLElement;
  private readonly fill: HTMLElement;
  private readonly label: HTMLElement;
  private progress: ProgressData | Empty = {};
  private batch: BatchData | Empty = {};
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

  update(progress: ProgressData | Empty, batch: BatchData | Empty, tokens: number): void {
    this.progress = progress;
    this.batch = batch;
    this.tokens = Math.max(tokens, isReplying(progress) ? progress.tokens : 0);
    const active = this.isActive();
    const replying = isReplying(progress);
    this.el.hidden = !active;
    if (active && this.timer === undefined && replying) {
      this.timer = window.setInterval(() => requestFrame(this), 250);
    } else if ((!active || !replying) && this.timer !== undefined) {
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
    return isReplying(this.progress) || (isBatch(this.batch) && !this.batch.done);
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
    const batch = isBatch(this.batch) ? this.batch : null;
    const p = isReplying(this.progress) ? this.progress : null;
    const text = batch ? batchText(batch) : null;
    if (text) parts.push(text);
    if (p) {
      const now = Date.now() / 1000;
      const retry = p.state === "retrying" && p.retry ? { ...p.retry, waitLeft: p.retry.until - now } : undefined;
      parts.push(progressText({
        state: p.state,
        elapsed: now - p.started_at,
        tokens: this.tokens,
        streamingFor: p.first_token_at ? now - p.first_token_at : 0,
        retry,
        activity: p.activity,
      }));
    }
    const label = parts.join(" — ");
    this.label.textContent = label;
    this.el.title = p?.state === "retrying" && p.retry ? plainHint(p.retry.reason) : "";
    this.el.setAttribute("aria-valuetext", label);
    this.el.dataset.state = p?.activity ? p.activity.kind : p?.state ?? "batch";
    const total = batch?.total ?? 0;
    if (p?.state === "retrying" && p.retry && !batch) {
      // the wait before the next attempt, filling up
      const waited = p.retry.wait_s > 0 ? 1 - (p.retry.until - Date.now() / 1000) / p.retry.wait_s : 1;
      for (const a of ["aria-valuemin", "aria-valuemax", "aria-valuenow"]) this.el.removeAttribute(a);
      this.bar.classList.remove("ais-indeterminate");
      this.fill.style.width = `${Math.round(100 * Math.min(1, Math.max(0, waited)))}%`;
    } else if (batch && total > 0) {
      const done = batch.completed + batch.failed;
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
