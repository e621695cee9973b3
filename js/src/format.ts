/** Formatting of numbers, durations, times and model names for display. Pure functions. */

import type { ActivityData, BatchData, Empty, ModelOption, ProgressData, RetryData, RetryKind } from "./protocol";

/** Whether the `batch` trait holds a batch (it is `{}` before any). */
export const isBatch = (b: BatchData | Empty | undefined): b is BatchData => typeof b?.total === "number";

/** Whether the `progress` trait holds a reply in flight (it is `{}` when none is). */
export const isReplying = (p: ProgressData | Empty | undefined): p is ProgressData => typeof p?.state === "string";

/** `0.4 s`, `12 s`, `2 min 05 s`, `1 h 02 min`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.floor(s)} s`;
  if (s < 3600) {
    const m = Math.floor(s / 60);
    return `${m} min ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
  }
  const h = Math.floor(s / 3600);
  return `${h} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** One formatter for every call: `toLocaleString` builds a new one each time (slow, and it runs per update). */
const INTEGER = new Intl.NumberFormat("en-US");

/** `1 token`, `1,234 tokens`. */
export function formatTokens(n: number): string {
  const count = Math.max(0, Math.round(n));
  return `${INTEGER.format(count)} ${count === 1 ? "token" : "tokens"}`;
}

/** Tokens per second, or null before there is a meaningful rate. */
export function tokenRate(tokens: number, seconds: number): number | null {
  if (tokens <= 0 || seconds <= 0.05) return null;
  return tokens / seconds;
}

export function formatRate(rate: number | null): string {
  if (rate === null) return "";
  return `${rate < 10 ? rate.toFixed(1) : Math.round(rate)} tok/s`;
}

/**
 * US dollars with enough digits to be useful for tiny amounts; `—` when unknown; `≥ $x` when `partial`
 * (some replies' prices are unknown, so the sum is a floor).
 */
export function formatCost(cost: number | null | undefined, partial = false): string {
  if (cost === null || cost === undefined) return "—";
  const amount = cost === 0 ? "$0" : cost < 0.01 ? `$${cost.toPrecision(2)}` : `$${cost.toFixed(2)}`;
  return partial ? `≥ ${amount}` : amount;
}

/** `just now`, `5 s ago`, `3 min ago`, `2 h ago`, `4 d ago` (times in seconds since the epoch). */
export function relativeTime(then: number, now: number): string {
  const d = Math.max(0, now - then);
  if (d < 5) return "just now";
  if (d < 60) return `${Math.floor(d)} s ago`;
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
  return `${Math.floor(d / 86400)} d ago`;
}

/**
 * The short name to show for `fullName` (`provider:model`): the model list's, else by the kernel's rule
 * (`short_model_name` in providers/base.py: no path, no `claude-` prefix, no 8-digit date stamp), so a
 * divider, a badge and a panel row name a model the same way.
 */
export function shortModelName(fullName: string, models: readonly ModelOption[] = []): string {
  const known = models.find((m) => m.name && `${m.provider}:${m.name}` === fullName);
  if (known) return known.short_name;
  const colon = fullName.indexOf(":");
  let name = colon >= 0 ? fullName.slice(colon + 1) : fullName;
  name = name.slice(name.lastIndexOf("/") + 1);
  for (const prefix of ["claude-", "models/"]) if (name.startsWith(prefix)) name = name.slice(prefix.length);
  const parts = name.split("-");
  if (parts.length > 1 && /^\d{8}$/.test(parts[parts.length - 1])) parts.pop();
  return parts.join("-");
}

export function providerOf(fullName: string): string {
  const colon = fullName.indexOf(":");
  return colon >= 0 ? fullName.slice(0, colon) : "";
}

export interface ReplyProgress {
  state: "waiting" | "streaming" | "retrying";
  elapsed: number;
  tokens: number;
  /** Seconds since the first token, for the rate. */
  streamingFor: number;
  /** While retrying: the next attempt, and seconds until it starts. */
  retry?: Pick<RetryData, "attempt" | "max_attempts" | "kind"> & { waitLeft: number };
  /** Tools running, or a call waiting for the user's approval. */
  activity?: ActivityData | null;
}

/** `calling count_rows…`, `calling a, b…`, `waiting for your approval`. */
export function activityText(activity: ActivityData): string {
  if (activity.kind === "approval") return "waiting for your approval";
  return `calling ${activity.names.join(", ") || "a tool"}…`;
}

const RETRY_KIND: Record<RetryKind, string> = {
  rate_limited: "rate limited",
  provider_error: "provider error",
  timeout: "timed out",
  connection: "connection failed",
};

/** `rate limited — retrying in 8 s (attempt 2 of 4)`. */
export function retryText(retry: NonNullable<ReplyProgress["retry"]>): string {
  const left = Math.ceil(retry.waitLeft);
  const when = left > 0 ? `in ${left} s` : "now";
  return `${RETRY_KIND[retry.kind] ?? retry.kind} — retrying ${when} (attempt ${retry.attempt} of ${retry.max_attempts})`;
}

/** The progress bar's text, e.g. `streaming · 3.2 s · 120 tokens · 37 tok/s`. */
export function progressText(p: ReplyProgress): string {
  if (p.activity) return `${activityText(p.activity)} · ${formatDuration(p.elapsed)}`;
  if (p.state === "retrying" && p.retry) return retryText(p.retry);
  if (p.state !== "streaming") {
    return `waiting for first token · ${formatDuration(p.elapsed)}`;
  }
  const parts = ["streaming", formatDuration(p.elapsed), formatTokens(p.tokens)];
  const rate = formatRate(tokenRate(p.tokens, p.streamingFor));
  if (rate) parts.push(rate);
  return parts.join(" · ");
}

/** `batch 3/10 · 1 failed · now: item` for a batch run, or null when `batch` is empty. */
export function batchText(batch: Partial<BatchData>): string | null {
  if (batch.total === undefined || batch.total === null) return null;
  const parts = [`batch ${batch.completed ?? 0}/${batch.total}`];
  if (batch.failed) parts.push(`${batch.failed} failed`);
  if (batch.done) parts.push("done");
  else if (batch.active) parts.push(`now: ${truncate(batch.active, 40)}`);
  return parts.join(" · ");
}

/** The line a finished batch leaves: `8/8 done, 0 failed, 12 s`. */
export function batchSummary(batch: BatchData): string {
  const parts = [`${batch.completed}/${batch.total} done`, `${batch.failed} failed`];
  if (batch.elapsed_s !== null && batch.elapsed_s !== undefined) parts.push(formatDuration(batch.elapsed_s));
  return parts.join(", ");
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A hint or error shown as plain text: backticks removed (for titles and option labels, which hold no markup). */
export function plainHint(text: string): string {
  return text.replace(/`([^`\n]+)`/g, "$1");
}

/** The part of an unavailability reason that fits in a menu (up to its first colon). */
export function shortReason(reason: string | null): string {
  if (!reason) return "unavailable";
  const text = plainHint(reason);
  const colon = text.indexOf(":");
  return truncate(colon > 0 ? text.slice(0, colon) : text, 60);
}
