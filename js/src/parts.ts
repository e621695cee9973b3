/**
 * A message's parts as the chat shows them. Pure functions, so vitest can test them.
 *
 * A reply that called tools is shown in order: its text, each tool call with its result, more text. The
 * streamed text runs ahead of the stored parts (the `messages` trait holds the last checkpoint), so the
 * text beyond the stored text parts is the round in progress, shown after the last part.
 *
 * A user message is its typed text (the first part) and what was attached to it (`@df`, `context=[...]`):
 * each attached object's description starts with a text part naming it (`` `df`: pandas DataFrame, ...``),
 * its images follow.
 */

import type { MessagePart, ToolCallPartData, ToolResultPartData } from "./protocol";

export type Segment =
  | { kind: "text"; text: string }
  | { kind: "tool"; call: ToolCallPartData; result: ToolResultPartData | null }
  | { kind: "result"; result: ToolResultPartData }
  | { kind: "other"; part: MessagePart };

/** Whether a message's parts hold a tool call or result (the reply is then shown part by part). */
export function hasToolParts(parts: readonly MessagePart[] | undefined): boolean {
  return (parts ?? []).some((p) => p.kind === "tool_call" || p.kind === "tool_result");
}

/**
 * The reply as segments in order. `text` is all of the reply's text as shown (streamed or stored); the
 * text parts take their share of it in order, and whatever is left past them is the round in progress.
 * Each result joins its call's segment.
 */
export function replySegments(parts: readonly MessagePart[], text: string): Segment[] {
  const segments: Segment[] = [];
  const calls = new Map<string, Extract<Segment, { kind: "tool" }>>();
  let offset = 0;
  parts.forEach((part, i) => {
    if (part.kind === "text") {
      const last = i === parts.length - 1;
      const piece = last ? text.slice(offset) : text.slice(offset, offset + part.text.length);
      offset += part.text.length;
      if (piece) segments.push({ kind: "text", text: piece });
    } else if (part.kind === "tool_call") {
      const segment = { kind: "tool" as const, call: part, result: null };
      calls.set(part.id, segment);
      segments.push(segment);
    } else if (part.kind === "tool_result") {
      const segment = calls.get(part.call_id);
      if (segment) segment.result = part;
      else segments.push({ kind: "result", result: part });
    } else {
      segments.push({ kind: "other", part });
    }
  });
  const lastPart = parts[parts.length - 1];
  if (!lastPart || lastPart.kind !== "text") {
    const rest = text.slice(offset);
    if (rest) segments.push({ kind: "text", text: rest });
  }
  return segments;
}

/** How a tool call went: still running (no result), done, failed, or not run (denied, over a limit). */
export type CallState = "running" | "done" | "error" | "refused";

export function callState(result: ToolResultPartData | null): CallState {
  if (!result) return "running";
  if (!result.is_error) return "done";
  return partsText(result.parts).startsWith("not run:") ? "refused" : "error";
}

export const CALL_STATE_TEXT: Record<CallState, string> = {
  running: "running…",
  done: "done",
  error: "failed",
  refused: "not run",
};

/** The text of `parts` (text parts joined; structured data as JSON). */
export function partsText(parts: readonly MessagePart[]): string {
  return parts.map((p) => (p.kind === "text" ? p.text : p.kind === "structured" ? JSON.stringify(p.data) : "")).join("");
}

/** `table="orders", limit=5`: a call's arguments in one short line. */
export function argumentsLine(args: Record<string, unknown>, max = 80): string {
  const line = Object.entries(args).map(([k, v]) => `${k}=${oneLine(JSON.stringify(v) ?? "null")}`).join(", ");
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

function oneLine(text: string): string {
  return text.replace(/\\n/g, "⏎").replace(/\s+/g, " ");
}

/** An argument as shown in a card: code arguments highlighted in their language, the others as JSON. */
export interface ArgumentBlock {
  name: string;
  /** A highlight.js language for code, or null for JSON. */
  lang: string | null;
  text: string;
}

/**
 * The arguments of a call, each as a block. `code` is Python (`run_python`); an `insert_cell` cell's
 * `source` is Python or markdown by its `cell_type`; a SQL `query` or `sql` is SQL.
 */
export function argumentBlocks(args: Record<string, unknown>): ArgumentBlock[] {
  return Object.entries(args).map(([name, value]) => {
    if (typeof value === "string") {
      if (name === "code") return { name, lang: "python", text: value };
      if (name === "source") return { name, lang: args.cell_type === "markdown" ? "markdown" : "python", text: value };
      if (name === "sql" || (name === "query" && /^\s*(select|with|insert|update|delete)\b/i.test(value))) {
        return { name, lang: "sql", text: value };
      }
    }
    return { name, lang: null, text: JSON.stringify(value, null, 2) ?? "null" };
  });
}

/** A markdown code fence around `code` that `code` cannot close (longer than any run of backticks in it). */
export function fenced(code: string, lang: string): string {
  const longest = Math.max(2, ...Array.from(code.matchAll(/`+/g), (m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}${lang}\n${code}\n${fence}`;
}

/** One attached object of a user message: its name and the parts that described it. */
export interface Attachment {
  label: string;
  parts: MessagePart[];
}

/**
 * A user message as typed and as attached: the first text part is what the user wrote (`text` when the
 * message has a single part: the trait's content); each later text part starts an attachment, and
 * images and files join the one before (or stand alone).
 */
export function userParts(parts: readonly MessagePart[] | undefined, text: string): { text: string; attachments: Attachment[] } {
  const list = parts ?? [];
  if (list.length <= 1) return { text, attachments: [] };
  const first = list[0];
  const own = first.kind === "text" ? first.text : "";
  const attachments: Attachment[] = [];
  for (const part of first.kind === "text" ? list.slice(1) : list) {
    const current = attachments[attachments.length - 1];
    if (part.kind === "text" || !current) {
      attachments.push({ label: attachmentLabel(part), parts: [part] });
    } else {
      current.parts.push(part);
    }
  }
  return { text: own, attachments };
}

function attachmentLabel(part: MessagePart): string {
  if (part.kind === "text") {
    const named = /^`([^`\n]+)`/.exec(part.text);
    if (named) return named[1];
    const file = /^the file ([^\n:]+):/.exec(part.text);
    if (file) return file[1];
    return "text";
  }
  if (part.kind === "file") return part.name;
  return part.kind;
}

/** `image/png, 12 KB`. */
export function describeBinary(mediaType: string, size: number | null): string {
  if (size === null) return mediaType;
  const kb = size / 1024;
  const amount = kb < 1 ? `${size} B` : kb < 1024 ? `${Math.round(kb)} KB` : `${(kb / 1024).toFixed(1)} MB`;
  return `${mediaType}, ${amount}`;
}

/** Image types shown as thumbnails (never SVG: it could carry script). */
export const THUMBNAIL_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
