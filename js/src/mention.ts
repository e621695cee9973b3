/**
 * `@` mentions in the message box: which variable name is being typed, the list that matches it, and
 * the names a message attaches. Pure functions, so vitest can test them.
 *
 * A mention is `@` followed by a Python identifier, at the start of the text or after a character that
 * cannot be part of a word or an e-mail address (`me@example.com` mentions nothing).
 */

import type { VariableRow } from "./protocol";

export interface MentionQuery {
  /** Index of the `@`. */
  start: number;
  /** Index just past the name typed so far (the caret). */
  end: number;
  /** The name typed so far (may be empty: just `@`). */
  query: string;
}

const BEFORE = /[\w@.]/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The mention being typed at `caret` in `text`, or null. */
export function mentionAt(text: string, caret: number): MentionQuery | null {
  let i = caret;
  while (i > 0 && /[A-Za-z0-9_]/.test(text[i - 1])) i--;
  if (i === 0 || text[i - 1] !== "@") return null;
  const start = i - 1;
  if (start > 0 && BEFORE.test(text[start - 1])) return null;
  const query = text.slice(i, caret);
  if (query && !NAME.test(query)) return null;
  return { start, end: caret, query };
}

/** The rows matching `query`: names starting with it first, then names containing it (case-insensitive). */
export function filterRows(rows: readonly VariableRow[], query: string, max = 50): VariableRow[] {
  const q = query.toLowerCase();
  const starts = rows.filter((r) => r.name.toLowerCase().startsWith(q));
  const contains = rows.filter((r) => !r.name.toLowerCase().startsWith(q) && r.name.toLowerCase().includes(q));
  return [...starts, ...contains].slice(0, max);
}

/** `text` with the mention `m` completed to `@name ` (a space after, unless one follows), and the caret after it. */
export function applyMention(text: string, m: MentionQuery, name: string): { text: string; caret: number } {
  const after = text.slice(m.end);
  const insert = `@${name}${/^\s/.test(after) ? "" : " "}`;
  return { text: text.slice(0, m.start) + insert + after, caret: m.start + insert.length };
}

/** The names `text` mentions, in order, each once. */
export function mentionedNames(text: string): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(/(^|[^\w@.])@([A-Za-z_][A-Za-z0-9_]*)/g)) {
    if (!names.includes(match[2])) names.push(match[2]);
  }
  return names;
}

/** How a variable reads in the list: `DataFrame · 200 x 3`. */
export function rowDetail(row: VariableRow): string {
  return row.shape ? `${row.type} · ${row.shape}` : row.type;
}
