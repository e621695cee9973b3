import { describe, expect, it } from "vitest";
import {
  buildAxis, buildPicture, gapText, laneCard, laneLabel, laneSummary, pictureSpans, switchCard, totalsRow,
  type TimelineEvent,
} from "../src/inspector_model";

const T0 = 1_700_000_000;

function ev(kind: string, time: number, fields: Partial<TimelineEvent> = {}): TimelineEvent {
  return {
    id: 0, time: T0 + time, kind, message: null, message_id: null, model: null, status: null, first_token_s: null,
    duration_s: null, input_tokens: null, output_tokens: null, cache_read_tokens: null, cache_write_tokens: null,
    cost: null, retries: null, retry_wait_s: null, error_kind: null, error: null, switch_reason: null,
    from_model: null, tool: null, ...fields,
  };
}

const A = "openai:gpt-4o-mini";
const B = "anthropic:claude-haiku-4-5";

/** A retry then a complete reply; a failed reply; a switch; a reply that failed over from A to B. */
const EVENTS: TimelineEvent[] = [
  ev("session.created", 0, { model: A }),
  ev("llm.request.started", 1, { message: 2, message_id: "r1", model: A }),
  ev("llm.request.retry", 1.2, { message: 2, message_id: "r1", model: A, retries: 1, retry_wait_s: 0.5, error_kind: "rate_limited" }),
  ev("llm.response.completed", 3, { message: 2, message_id: "r1", model: A, status: "complete", first_token_s: 1.0, duration_s: 2.0,
    input_tokens: 10, output_tokens: 20, cost: 0.001, retries: 1, retry_wait_s: 0.5 }),
  ev("llm.request.started", 4, { message: 4, message_id: "r2", model: A }),
  ev("llm.response.failed", 4.5, { message: 4, message_id: "r2", model: A, status: "failed", duration_s: 0.5, error_kind: "auth", error: "bad key" }),
  ev("model.switched", 60, { message: 5, model: "auto", from_model: A, switch_reason: "try auto" }),
  ev("llm.request.started", 61, { message: 6, message_id: "r3", model: A }),
  ev("llm.request.failed", 62, { message: 6, message_id: "r3", model: A, status: "failed", error_kind: "provider_error" }),
  ev("model.switched", 62, { message: 6, model: B, from_model: A, switch_reason: "auto: openai failed: server error" }),
  ev("llm.request.started", 62, { message: 6, message_id: "r3", model: B }),
  ev("llm.response.completed", 64, { message: 6, message_id: "r3", model: B, status: "stopped", first_token_s: 1.5, duration_s: 3.0,
    output_tokens: 4 }),
];

describe("buildPicture", () => {
  it("makes one lane per reply with waiting and streaming apart, marks and switches", () => {
    const p = buildPicture(EVENTS, {}, T0 + 100);
    expect(p.lanes.map((l) => [l.messageId, l.message, l.status, l.models])).toEqual([
      ["r1", 2, "complete", [A]], ["r2", 4, "failed", [A]], ["r3", 6, "stopped", [A, B]]]);
    const [r1, r2, r3] = p.lanes;
    // r1: began 2 s before its end (t=1), first token 1 s later (t=2)
    expect(r1.segments.map((s) => [s.kind, s.start - T0, s.end - T0, s.failed])).toEqual([
      ["waiting", 1, 2, false], ["streaming", 2, 3, false]]);
    expect(r1.marks.map((m) => m.kind)).toEqual(["retry"]);
    expect(r1.retries).toBe(1);
    expect(r2.segments.map((s) => [s.kind, s.failed])).toEqual([["waiting", true]]);
    expect(r2.marks.map((m) => [m.kind, m.label])).toEqual([["failure", "failed: auth"]]);
    // r3: A waited and failed, then B waited and streamed until the stop (first token at 64 - 3 + 1.5 = 62.5)
    expect(r3.segments.map((s) => [s.kind, s.model, s.start - T0, s.end - T0, s.failed])).toEqual([
      ["waiting", A, 61, 62, true], ["waiting", B, 62, 62.5, false], ["streaming", B, 62.5, 64, false]]);
    expect(r3.marks.map((m) => m.kind)).toEqual(["failover", "stop"]);
    expect(p.switches.map((s) => [s.time - T0, s.from, s.to, s.reason])).toEqual([
      [60, A, "auto", "try auto"], [62, A, B, "auto: openai failed: server error"]]);
  });

  it("grows the live reply to now: waiting, then streaming from its first token", () => {
    const events = [ev("llm.request.started", 10, { message: 2, message_id: "live", model: A, status: "streaming" })];
    const waiting = buildPicture(events, { message_id: "live", state: "waiting", started_at: T0 + 10 }, T0 + 12);
    expect(waiting.lanes[0]).toMatchObject({ live: true, open: true, status: "streaming", end: T0 + 12 });
    expect(waiting.lanes[0].segments.map((s) => s.kind)).toEqual(["waiting"]);
    const streaming = buildPicture(events, { message_id: "live", state: "streaming", first_token_at: T0 + 11 }, T0 + 13);
    expect(streaming.lanes[0].segments.map((s) => [s.kind, s.start - T0, s.end - T0])).toEqual([
      ["waiting", 10, 11], ["streaming", 11, 13]]);
  });

  it("shows a reply left open by a dead kernel as interrupted", () => {
    const events = [ev("llm.request.started", 10, { message: 2, message_id: "x", model: A, status: "interrupted" })];
    const lane = buildPicture(events, {}, T0 + 50).lanes[0];
    expect(lane).toMatchObject({ live: false, open: true, status: "interrupted" });
    expect(lane.marks.map((m) => m.kind)).toEqual(["interrupted"]);
  });

  it("ignores rows of replies whose start is not shown, and marks tool calls", () => {
    const events = [
      ev("llm.response.completed", 3, { message_id: "old", status: "complete" }),
      ev("llm.request.started", 4, { message: 2, message_id: "t", model: A }),
      ev("tool.call.finished", 5, { message_id: "t", tool: "run_python" }),
      ev("llm.response.completed", 6, { message_id: "t", status: "complete", duration_s: 2, first_token_s: 1.5 }),
    ];
    const p = buildPicture(events, {}, T0 + 10);
    expect(p.lanes.map((l) => l.messageId)).toEqual(["t"]);
    expect(p.lanes[0].marks.map((m) => [m.kind, m.label])).toEqual([["tool", "tool run_python finished"]]);
  });
});

describe("buildAxis", () => {
  it("is linear when nothing is far apart", () => {
    const axis = buildAxis([[0, 2], [3, 4]], 400);
    expect(axis.blocks).toHaveLength(1);
    expect(axis.breaks).toEqual([]);
    expect(axis.toX(0)).toBe(0);
    expect(axis.toX(2)).toBeCloseTo(200);
    expect(axis.toX(4)).toBeCloseTo(400);
  });

  it("draws long idle gaps as fixed breaks and keeps one scale inside blocks", () => {
    const axis = buildAxis([[0, 1], [100, 101], [1000, 1002]], 422, 5, 22);
    expect(axis.blocks.map((b) => [b.start, b.end])).toEqual([[0, 1], [100, 101], [1000, 1002]]);
    expect(axis.breaks.map((b) => b.seconds)).toEqual([99, 899]);
    expect(axis.scale).toBeCloseTo((422 - 44) / 4);
    expect(axis.toX(0.5)).toBeCloseTo(0.5 * axis.scale);
    expect(axis.toX(100)).toBeCloseTo(axis.scale + 22);
    expect(axis.toX(1002)).toBeCloseTo(422);
    expect(axis.toX(50)).toBeCloseTo(axis.scale); // inside a gap: at the end of the block before it
    expect(axis.toX(-5)).toBe(0);
  });

  it("gives an instant a few pixels and copes with nothing", () => {
    expect(buildAxis([[5, 5]], 100).toX(5)).toBe(0);
    expect(buildAxis([], 100).width).toBeCloseTo(100);
  });

  it("covers every lane and switch of a picture", () => {
    const p = buildPicture(EVENTS, {}, T0 + 100);
    const axis = buildAxis(pictureSpans(p), 500);
    for (const lane of p.lanes) {
      expect(axis.toX(lane.start)).toBeGreaterThanOrEqual(0);
      expect(axis.toX(lane.end)).toBeLessThanOrEqual(500.0001);
      expect(axis.toX(lane.end)).toBeGreaterThan(axis.toX(lane.start));
    }
  });
});

describe("texts", () => {
  const p = buildPicture(EVENTS, {}, T0 + 100);

  it("labels lanes with their position and models", () => {
    expect(p.lanes.map(laneLabel)).toEqual(["#2 gpt-4o-mini", "#4 gpt-4o-mini", "#6 gpt-4o-mini → haiku-4-5"]);
  });

  it("puts the numbers in the card and the accessible name", () => {
    expect(laneCard(p.lanes[0])).toEqual([
      "Reply #2 · complete", `Model: ${A}`, "First token: 1.0 s", "Duration: 2.0 s",
      "Tokens: 10 in, 20 out", "Cost: $0.0010", "Retries: 1 (waited 0.50 s)"]);
    expect(laneCard(p.lanes[1])).toContain("Error: auth: bad key");
    expect(laneCard(p.lanes[2])).toContain("Gpt-4o-mini failed: provider_error");
    expect(laneSummary(p.lanes[0])).toMatch(/^Reply #2 · complete\. Model: /);
    expect(switchCard(p.switches[1])).toEqual(["Model switch before message #6", `${A} → ${B}`,
      "Reason: auto: openai failed: server error"]);
  });

  it("formats the totals and the gaps", () => {
    expect(totalsRow({ model: A, replies: 4, failed: 1, stopped: 0, failure_rate: 0.25, ttft_median_s: 0.42,
      ttft_p90_s: 1.5, tokens_per_s: 57.3, input_tokens: 1000, output_tokens: 234, cost: 0.0123 })).toEqual(
      [A, "4", "1 (25%)", "0.42 s", "1.5 s", "57", "1,234", "$0.01"]);
    expect(totalsRow({ model: B, replies: 1, failed: 0, stopped: 1, failure_rate: 0, ttft_median_s: null,
      ttft_p90_s: null, tokens_per_s: null, input_tokens: 0, output_tokens: 0, cost: null })).toEqual(
      [B, "1", "0", "—", "—", "—", "0", "—"]);
    expect(gapText(899)).toBe("14 min 59 s");
    expect(gapText(120)).toBe("2 min");
  });
});
