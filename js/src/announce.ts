/**
 * What the chat says to screen readers, and when: a reply once it has ended (not each token while it
 * streams; the log itself is not a live region). Pure functions, so vitest can test them.
 */

import type { MessageData } from "./protocol";

/** Longest announcement: a long reply is cut (the log holds all of it). */
const MAX_CHARS = 1500;

/**
 * The replies that ended since `before` (message id -> status at the last look; null: this is the first
 * look, when nothing is announced — the history is not news). A reply ended if it was streaming then and
 * is not now, or if it is new and already over (a fast reply whose streaming state was never seen).
 */
export function endedReplies(
  before: ReadonlyMap<string, MessageData["status"]> | null,
  messages: readonly MessageData[],
): MessageData[] {
  if (before === null) return [];
  return messages.filter((m) => {
    if (m.role !== "assistant" || m.status === "streaming") return false;
    const was = before.get(m.id);
    return was === "streaming" || was === undefined;
  });
}

/** `Reply 3 from smollm2: …`, `Reply 3 stopped: …`, `Reply 3 failed: <error>`. */
export function replyAnnouncement(message: MessageData, name: string, text: string): string {
  const who = name ? `${name[0].toUpperCase()}${name.slice(1)}` : "Reply";
  const body = text.length > MAX_CHARS ? `${text.slice(0, MAX_CHARS)}… (continues in the log)` : text;
  if (message.status === "failed") return `${who} failed: ${message.error ?? "unknown error"}${body ? `. ${body}` : ""}`;
  if (message.status === "complete") return `${who}: ${body}`;
  return `${who} ${message.status}: ${body}`;
}
