/**
 * Per-message details (time, latency to the first token, tokens in/out, cost, model) and the day
 * separators of a long history. Pure functions: message_tools.ts and chat_extras.ts render them.
 */

import { formatCost, formatDuration, shortModelName } from "./format";
import type { MessageData, ModelOption } from "./protocol";

export interface Detail {
  label: string;
  value: string;
}

const TIME = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const FULL = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const DAY = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric" });
const INTEGER = new Intl.NumberFormat("en-US");

/** The details of a message: when, and for a reply how fast, how many tokens, at what cost, from what model. */
export function messageDetails(m: MessageData, models: readonly ModelOption[] = []): Detail[] {
  const items: Detail[] = [];
  if (m.created_at) items.push({ label: "Time", value: FULL.format(new Date(m.created_at * 1000)) });
  if (m.role !== "assistant") return items;
  const first = m.timing?.first_token_s;
  if (first !== null && first !== undefined) items.push({ label: "First token", value: formatDuration(first) });
  const took = m.timing?.elapsed ?? (m.completed_at && m.created_at ? m.completed_at - m.created_at : null);
  if (took !== null && took !== undefined && m.status !== "streaming") items.push({ label: "Duration", value: formatDuration(took) });
  if (m.usage) {
    items.push({ label: "Tokens", value: `${INTEGER.format(m.usage.input_tokens)} in / ${INTEGER.format(m.usage.output_tokens)} out` });
    if (m.usage.cache_read_tokens) items.push({ label: "Cached", value: `${INTEGER.format(m.usage.cache_read_tokens)} read` });
  }
  items.push({ label: "Cost", value: formatCost(m.cost) });
  if (m.model) items.push({ label: "Model", value: `${shortModelName(m.model, models)} (${m.model})` });
  return items;
}

/** The one-line summary shown on hover or focus: `14:03 · first token 0.4 s · 120 in / 340 out · $0.0012`. */
export function detailsLine(m: MessageData): string {
  const parts: string[] = [];
  if (m.created_at) parts.push(TIME.format(new Date(m.created_at * 1000)));
  if (m.role === "assistant") {
    const first = m.timing?.first_token_s;
    if (first !== null && first !== undefined) parts.push(`first token ${formatDuration(first)}`);
    if (m.usage) parts.push(`${INTEGER.format(m.usage.input_tokens)} in / ${INTEGER.format(m.usage.output_tokens)} out`);
    if (m.cost !== null) parts.push(formatCost(m.cost));
  }
  return parts.join(" · ");
}

/** A local calendar day, as a key. */
export function dayKey(seconds: number): string {
  const d = new Date(seconds * 1000);
  return `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
}

/** `Today`, `Yesterday`, or the date (`Mon, 3 Mar 2025`). */
export function dayLabel(seconds: number, now: number = Date.now() / 1000): string {
  if (dayKey(seconds) === dayKey(now)) return "Today";
  if (dayKey(seconds) === dayKey(now - 86400)) return "Yesterday";
  return DAY.format(new Date(seconds * 1000));
}

/**
 * Where day separators go: the index of the first message of each day, with its label. None for a
 * history within one day (a separator would only repeat "Today").
 */
export function daySeparators(messages: readonly Pick<MessageData, "created_at">[], now: number = Date.now() / 1000): Map<number, string> {
  const found = new Map<number, string>();
  let last = "";
  messages.forEach((m, i) => {
    if (!m.created_at) return;
    const key = dayKey(m.created_at);
    if (key !== last) found.set(i, dayLabel(m.created_at, now));
    last = key;
  });
  return found.size > 1 ? found : new Map();
}
