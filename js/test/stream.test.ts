import { describe, expect, it } from "vitest";
import type { DeltaMsg, MessageData } from "../src/protocol";
import { displayText, mergeDelta, startStream, streamEnded } from "../src/stream";

const delta = (offset: number, text: string, seq = 0, id = "m1", tokens = 0): DeltaMsg => ({
  type: "delta", message_id: id, seq, offset, text, tokens,
});

function message(over: Partial<MessageData>): MessageData {
  return {
    id: "m1", seq: 2, role: "assistant", content: "", model: "local:smollm2", status: "streaming", usage: null,
    cost: null, error: null, error_kind: null, created_at: 0, completed_at: null, ...over,
  };
}

describe("mergeDelta", () => {
  it("appends in-order chunks", () => {
    let s = mergeDelta(null, delta(0, "Hel", 0, "m1", 1)).stream;
    const r = mergeDelta(s, delta(3, "lo", 1, "m1", 2));
    expect(r.kind).toBe("applied");
    s = r.stream;
    expect(s.text).toBe("Hello");
    expect(s.tokens).toBe(2);
    expect(s.lastSeq).toBe(1);
  });

  it("ignores a repeated chunk", () => {
    const s = mergeDelta(null, delta(0, "Hello", 0)).stream;
    const r = mergeDelta(s, delta(0, "Hello", 0));
    expect(r.kind).toBe("unchanged");
    expect(r.stream.text).toBe("Hello");
  });

  it("merges an overlapping chunk (a snapshot) without duplicating text", () => {
    const s = mergeDelta(null, delta(0, "Hello", 0)).stream;
    const r = mergeDelta(s, delta(0, "Hello world", 5));
    expect(r.stream.text).toBe("Hello world");
  });

  it("reports a gap and keeps the text it has", () => {
    const s = mergeDelta(null, delta(0, "Hel", 0)).stream;
    const r = mergeDelta(s, delta(5, " world", 2));
    expect(r.kind).toBe("gap");
    expect(r.stream.text).toBe("Hel");
    if (r.kind === "gap") expect(r.expectedOffset).toBe(3);
  });

  it("starts over for another reply", () => {
    const s = mergeDelta(null, delta(0, "old", 0, "m1")).stream;
    const r = mergeDelta(s, delta(0, "new", 1, "m2"));
    expect(r.stream.messageId).toBe("m2");
    expect(r.stream.text).toBe("new");
  });

  it("a reply joined mid-way waits for a snapshot", () => {
    expect(mergeDelta(null, delta(10, "tail")).kind).toBe("gap");
  });
});

describe("displayText", () => {
  it("prefers streamed text while streaming", () => {
    const s = { ...startStream("m1"), text: "Hello wor" };
    expect(displayText(message({ content: "Hello" }), s)).toBe("Hello wor");
  });

  it("uses the trait's final text once the reply ended", () => {
    const s = { ...startStream("m1"), text: "Hello wor" };
    expect(displayText(message({ content: "Hello world!", status: "complete" }), s)).toBe("Hello world!");
    expect(streamEnded([message({ status: "stopped" })], s)).toBe(true);
  });
});
