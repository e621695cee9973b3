/**
 * Splitting markdown into top-level blocks so that a streaming reply re-renders only its tail.
 *
 * A block ends at a blank line that is followed by an unindented line, outside fenced code and
 * `$$` math. Every block but the last is final: text appended later cannot change it, so the view
 * renders it once. Rendering a finished reply splits the same way, so a reloaded notebook shows
 * exactly what streamed.
 */

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const MATH_FENCE = /^ {0,3}\$\$/;

export function splitBlocks(text: string): string[] {
  const lines = text.split("\n");
  const blocks: string[] = [];
  let current: string[] = [];
  let fence: string | null = null; // the opening fence run while inside fenced code
  let inMath = false;
  let sawBlank = false;

  for (const line of lines) {
    if (fence !== null) {
      current.push(line);
      const m = FENCE.exec(line);
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length && line.trim() === m[1]) {
        fence = null;
      }
      continue;
    }
    if (inMath) {
      current.push(line);
      if (line.trimEnd().endsWith("$$")) inMath = false;
      continue;
    }
    if (line.trim() === "") {
      sawBlank = current.length > 0;
      if (current.length > 0) current.push(line);
      continue;
    }
    if (sawBlank && !/^[ \t]/.test(line)) {
      blocks.push(trimTrailingBlank(current));
      current = [];
    }
    sawBlank = false;
    current.push(line);
    const f = FENCE.exec(line);
    if (f) {
      fence = f[1];
    } else if (MATH_FENCE.test(line)) {
      const rest = line.trim().slice(2);
      if (!rest.includes("$$")) inMath = true;
    }
  }
  blocks.push(trimTrailingBlank(current));
  return blocks;
}

function trimTrailingBlank(lines: string[]): string {
  let end = lines.length;
  while (end > 0 && lines[end - 1].trim() === "") end--;
  return lines.slice(0, end).join("\n");
}
