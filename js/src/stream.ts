/**
 * Merging streamed reply text. The kernel sends, at most every ~50 ms, the text appended to a reply
 * since its last message, with the offset where it starts. Offsets make merging idempotent: a repeated
 * or overlapping chunk changes nothing, and a chunk that starts past the text we hold is a gap (a lost
 * message), which the view repairs by asking the kernel for the whole text again.
 */

import type { DeltaMsg, MessageData } from "./protocol";

/** The text of the one reply being streamed, as this view knows it. */
export interface StreamText {
  messageId: string;
  text: string;
  tokens: number;
  lastSeq: number;
}

export type MergeResult =
  | { kind: "applied"; stream: StreamText }
  | { kind: "unchanged"; stream: StreamText }
  | { kind: "gap"; stream: StreamText; expectedOffset: number };

/** Start following reply `messageId` from text already known (e.g. a stored checkpoint). */
export function startStream(messageId: string, known = ""): StreamText {
  return { messageId, text: known, tokens: 0, lastSeq: -1 };
}

/** Merge one delta into `stream` (or start a new stream if the delta is for another reply). */
export function mergeDelta(stream: StreamText | null, delta: DeltaMsg): MergeResult {
  let current = stream && stream.messageId === delta.message_id ? stream : startStream(delta.message_id);
  const have = current.text.length;
  const end = delta.offset + delta.text.length;
  const meta = {
    tokens: Math.max(current.tokens, delta.tokens),
    lastSeq: Math.max(current.lastSeq, delta.seq),
  };
  if (delta.offset > have) {
    return { kind: "gap", stream: current, expectedOffset: have };
  }
  if (end <= have) {
    current = { ...current, ...meta };
    return { kind: "unchanged", stream: current };
  }
  const text = current.text + delta.text.slice(have - delta.offset);
  return { kind: "applied", stream: { ...current, ...meta, text } };
}

/**
 * The text to show for `message`: the trait's text once the reply has ended (it is final), else the
 * longer of the trait's checkpoint and the streamed text.
 */
export function displayText(message: MessageData, stream: StreamText | null): string {
  if (message.status !== "streaming" || !stream || stream.messageId !== message.id) {
    return message.content;
  }
  return stream.text.length >= message.content.length ? stream.text : message.content;
}

/** Whether `stream` can be dropped: its reply is no longer streaming according to the trait. */
export function streamEnded(messages: readonly MessageData[], stream: StreamText | null): boolean {
  if (!stream) return false;
  const message = messages.find((m) => m.id === stream.messageId);
  return message !== undefined && message.status !== "streaming";
}
