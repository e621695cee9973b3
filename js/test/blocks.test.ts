import { describe, expect, it } from "vitest";
import { splitBlocks } from "../src/blocks";

describe("splitBlocks", () => {
  it("splits paragraphs at blank lines", () => {
    expect(splitBlocks("a\nb\n\nc\n\n\nd")).toEqual(["a\nb", "c", "d"]);
  });

  it("keeps fenced code with blank lines in one block", () => {
    const text = "intro\n\n```py\nx = 1\n\n\ny = 2\n```\n\nafter";
    expect(splitBlocks(text)).toEqual(["intro", "```py\nx = 1\n\n\ny = 2\n```", "after"]);
  });

  it("keeps an unclosed fence open to the end (streaming)", () => {
    expect(splitBlocks("a\n\n```\ncode\n\nmore")).toEqual(["a", "```\ncode\n\nmore"]);
  });

  it("keeps $$ math with blank lines together", () => {
    expect(splitBlocks("$$\na\n\nb\n$$\n\nz")).toEqual(["$$\na\n\nb\n$$", "z"]);
  });

  it("keeps indented continuations of list items", () => {
    expect(splitBlocks("1. one\n\n   more of one\n\n2. two")).toEqual(["1. one\n\n   more of one", "2. two"]);
  });

  it("streaming prefixes never change an earlier block", () => {
    const full = "# Title\n\nSome *text*.\n\n```js\nlet a = 1;\n\nlet b;\n```\n\n- x\n- y\n\n$$\nx^2\n$$\n\nEnd.";
    const final = splitBlocks(full);
    for (let i = 0; i <= full.length; i++) {
      const partial = splitBlocks(full.slice(0, i));
      for (let b = 0; b < partial.length - 1; b++) expect(partial[b]).toBe(final[b]);
    }
  });

  it("returns one empty block for empty text", () => {
    expect(splitBlocks("")).toEqual([""]);
  });
});
