/**
 * The inspector's data and the pure logic behind its picture (no DOM): lanes built from the timeline rows,
 * a time axis that compresses idle gaps, and the texts of the hover/focus card. Names match the Python side
 * (ai_sessions/widgets/inspector.py, ai_sessions/timeline.py, ai_sessions/metrics.py).
 */

import { formatCost, formatDuration, shortModelName } from "./format";

/** One row of the `events` trait (a timeline row; `time` in epoch seconds). */
export interface TimelineEvent {
  id: number;
  time: number;
  kind: string;
  message: number | null;
  message_id: string | null;
  model: string | null;
  status: string | null;
  first_token_s: number | null;
  duration_s: number | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cache_read_tokens: number | null;
  cache_write_tokens: number | null;
  cost: number | null;
  retries: number | null;
  retry_wait_s: number | null;
  error_kind: string | null;
  error: string | null;
  switch_reason: string | null;
  from_model: string | null;
  tool: string | null;
}

/** The `live` trait: the reply in flight (as the chat's `progress`), or an empty object. */
export interface LiveData {
  message_id?: string;
  state?: "waiting" | "streaming";
  started_at?: number;
  first_token_at?: number | null;
  tokens?: number;
  model?: string | null;
}

/** One row of the `totals` trait (ai_sessions.metrics). */
export interface ModelTotals {
  model: string;
  replies: number;
  failed: number;
  stopped: number;
  failure_rate: number | null;
  ttft_median_s: number | null;
  ttft_p90_s: number | null;
  tokens_per_s: number | null;
  input_tokens: number;
  output_tokens: number;
  cost: number | null;
}

export interface InspectorTraits {
  session_id: string;
  session_name: string;
  events: TimelineEvent[];
  totals: ModelTotals[];
  live: LiveData;
  clock: number;
  hidden_replies: number;
  session_state: "open" | "deleted" | "missing";
}

/** Browser -> kernel. */
export type InspectorViewMsg = { type: "view"; open: boolean };

export type SegmentKind = "waiting" | "streaming";

/** A stretch of a lane: waiting for the first token, or streaming; `failed`: that model's attempt failed. */
export interface Segment {
  kind: SegmentKind;
  start: number;
  end: number;
  model: string;
  failed: boolean;
}

export type MarkKind = "retry" | "failure" | "failover" | "stop" | "tool" | "interrupted";

export interface Mark {
  kind: MarkKind;
  time: number;
  label: string;
}

/** One reply on the time axis. */
export interface Lane {
  messageId: string;
  message: number | null;
  start: number;
  end: number;
  /** Still streaming (grows with the clock) or never ended (its kernel died). */
  open: boolean;
  live: boolean;
  status: string;
  models: string[];
  segments: Segment[];
  marks: Mark[];
  firstTokenS: number | null;
  durationS: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  cacheReadTokens: number | null;
  cost: number | null;
  retries: number;
  retryWaitS: number;
  errorKind: string | null;
  error: string | null;
}

export interface SwitchMarker {
  time: number;
  from: string | null;
  to: string | null;
  reason: string | null;
  message: number | null;
}

export interface Picture {
  lanes: Lane[];
  switches: SwitchMarker[];
}

const ENDS = new Set(["llm.response.completed", "llm.response.failed"]);

/**
 * Lanes (one per reply, in order of their start) and switch markers from the timeline rows. `live` is the
 * reply in flight: its lane grows to `now` (kernel time), waiting until its first token, then streaming.
 */
export function buildPicture(events: readonly TimelineEvent[], live: LiveData, now: number): Picture {
  const lanes = new Map<string, Lane>();
  const attempt = new Map<string, { model: string; start: number }>();
  const switches: SwitchMarker[] = [];
  for (const e of events) {
    const id = e.message_id;
    if (e.kind === "model.switched") {
      switches.push({ time: e.time, from: e.from_model, to: e.model, reason: e.switch_reason, message: e.message });
      continue;
    }
    if (!id) continue;
    if (e.kind === "llm.request.started") {
      let lane = lanes.get(id);
      if (!lane) {
        lane = newLane(id, e);
        lanes.set(id, lane);
      }
      if (e.model && !lane.models.includes(e.model)) lane.models.push(e.model);
      if (e.status) lane.status = e.status;
      attempt.set(id, { model: e.model ?? "", start: e.time });
      continue;
    }
    const lane = lanes.get(id);
    if (!lane) continue; // its start is older than the rows shown
    const current = attempt.get(id) ?? { model: lane.models.at(-1) ?? "", start: lane.start };
    if (e.kind === "llm.request.retry") {
      lane.retries += 1;
      lane.retryWaitS += e.retry_wait_s ?? 0;
      lane.marks.push({ kind: "retry", time: e.time, label: `retry ${e.retries ?? lane.retries} after ${e.error_kind ?? "an error"}` +
        (e.retry_wait_s ? `, waited ${formatDuration(e.retry_wait_s)}` : "") });
    } else if (e.kind === "llm.request.failed") {
      lane.segments.push({ kind: "waiting", start: current.start, end: e.time, model: current.model, failed: true });
      lane.marks.push({ kind: "failover", time: e.time, label: `${shortModelName(current.model)} failed: ${e.error_kind ?? "error"}` });
      lane.end = e.time;
    } else if (ENDS.has(e.kind)) {
      endLane(lane, e, current);
    } else if (e.kind.startsWith("tool.")) {
      lane.marks.push({ kind: "tool", time: e.time, label: `tool ${e.tool ?? ""} ${e.kind.split(".").at(-1)}`.replace("  ", " ") });
    }
  }
  for (const lane of lanes.values()) {
    if (!lane.open) continue;
    const current = attempt.get(lane.messageId) ?? { model: lane.models.at(-1) ?? "", start: lane.start };
    if (live.message_id === lane.messageId) {
      lane.live = true;
      lane.status = "streaming";
      lane.end = Math.max(now, current.start);
      const first = live.first_token_at ?? null;
      pushAttempt(lane, current, first !== null && first >= current.start ? first : null, lane.end, false);
    } else {
      // no end event and not streaming here: cut by a dead kernel (or the end is not read yet)
      lane.status ||= "interrupted";
      lane.end = Math.max(lane.end, current.start);
      if (lane.status === "interrupted") lane.marks.push({ kind: "interrupted", time: lane.end, label: "interrupted" });
    }
  }
  return { lanes: [...lanes.values()], switches };
}

function newLane(id: string, e: TimelineEvent): Lane {
  return {
    messageId: id, message: e.message, start: e.time, end: e.time, open: true, live: false, status: "",
    models: [], segments: [], marks: [], firstTokenS: null, durationS: null, inputTokens: null, outputTokens: null,
    cacheReadTokens: null, cost: null, retries: 0, retryWaitS: 0, errorKind: null, error: null,
  };
}

function endLane(lane: Lane, e: TimelineEvent, current: { model: string; start: number }): void {
  lane.open = false;
  lane.end = Math.max(e.time, current.start);
  lane.status = e.status ?? (e.kind === "llm.response.failed" ? "failed" : "complete");
  if (e.model && !lane.models.includes(e.model)) lane.models.push(e.model);
  lane.firstTokenS = e.first_token_s;
  lane.durationS = e.duration_s;
  lane.inputTokens = e.input_tokens;
  lane.outputTokens = e.output_tokens;
  lane.cacheReadTokens = e.cache_read_tokens;
  lane.cost = e.cost;
  lane.errorKind = e.error_kind;
  lane.error = e.error;
  // the reply's own clock: it began `duration_s` before its end; the first token `first_token_s` after that
  const began = e.duration_s !== null ? e.time - e.duration_s : lane.start;
  const first = e.first_token_s !== null ? began + e.first_token_s : null;
  pushAttempt(lane, current, first !== null && first >= current.start ? first : null, lane.end, lane.status === "failed");
  if (lane.status === "failed") lane.marks.push({ kind: "failure", time: lane.end, label: `failed: ${e.error_kind ?? "error"}` });
  else if (lane.status === "stopped") lane.marks.push({ kind: "stop", time: lane.end, label: "stopped" });
}

function pushAttempt(lane: Lane, current: { model: string; start: number }, first: number | null, end: number,
  failed: boolean): void {
  if (first === null) {
    lane.segments.push({ kind: "waiting", start: current.start, end, model: current.model, failed });
    return;
  }
  const at = Math.min(first, end);
  lane.segments.push({ kind: "waiting", start: current.start, end: at, model: current.model, failed: false });
  lane.segments.push({ kind: "streaming", start: at, end, model: current.model, failed });
}

// -- the time axis ------------------------------------------------------------------------------------

/** A stretch of time drawn at full scale; the idle gaps between blocks are drawn as fixed-width breaks. */
export interface Block {
  start: number;
  end: number;
  x: number;
  width: number;
}

export interface Axis {
  blocks: Block[];
  /** Breaks between blocks: where they are drawn and how long the idle time was. */
  breaks: { x: number; seconds: number }[];
  width: number;
  /** Pixels per second inside blocks. */
  scale: number;
  toX(time: number): number;
}

/** Gaps longer than this (seconds) are drawn as a break, however long they were. */
export const GAP_S = 5;
export const BREAK_PX = 22;
/** The least time a block spans on the axis (an instant still gets a few pixels). */
const MIN_SPAN_S = 0.05;

/**
 * A piecewise-linear time axis `width` pixels wide over `spans` ([start, end] in seconds): spans closer than
 * `gapS` merge into one block drawn at a common scale; longer idle gaps shrink to `breakPx`-wide breaks.
 */
export function buildAxis(spans: readonly [number, number][], width: number, gapS = GAP_S, breakPx = BREAK_PX): Axis {
  const sorted = spans.map(([a, b]) => [a, Math.max(a, b)] as [number, number]).sort((p, q) => p[0] - q[0]);
  const merged: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = merged.at(-1);
    if (last && a - last[1] <= gapS) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  if (merged.length === 0) merged.push([0, MIN_SPAN_S]);
  for (const m of merged) if (m[1] - m[0] < MIN_SPAN_S) m[1] = m[0] + MIN_SPAN_S;
  const seconds = merged.reduce((n, [a, b]) => n + (b - a), 0);
  const breaks = Math.max(0, merged.length - 1);
  const usable = Math.max(1, width - breaks * breakPx);
  const scale = usable / seconds;
  const blocks: Block[] = [];
  const gaps: { x: number; seconds: number }[] = [];
  let x = 0;
  merged.forEach(([a, b], i) => {
    if (i > 0) {
      gaps.push({ x, seconds: a - merged[i - 1][1] });
      x += breakPx;
    }
    const w = (b - a) * scale;
    blocks.push({ start: a, end: b, x, width: w });
    x += w;
  });
  const toX = (time: number): number => {
    let lo = 0;
    let hi = blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (blocks[mid].start <= time) lo = mid;
      else hi = mid - 1;
    }
    const b = blocks[lo];
    if (time <= b.start) return b.x;
    if (time >= b.end) {
      // in the gap after this block: at its end (the break that follows is not a time scale)
      return b.x + b.width;
    }
    return b.x + (time - b.start) * scale;
  };
  return { blocks, breaks: gaps, width: Math.min(width, x), scale, toX };
}

/** The spans a picture's axis must cover: every lane, every switch (an instant). */
export function pictureSpans(p: Picture): [number, number][] {
  return [...p.lanes.map((l) => [l.start, l.end] as [number, number]), ...p.switches.map((s) => [s.time, s.time] as [number, number])];
}

// -- texts --------------------------------------------------------------------------------------------

/** The lane's label: `#6 gpt-4o-mini` (the models it used, after a failover `a → b`). */
export function laneLabel(lane: Lane): string {
  const models = lane.models.map((m) => shortModelName(m)).join(" → ") || "?";
  return `${lane.message !== null ? `#${lane.message} ` : ""}${models}`;
}

/** The numbers of a lane, one line each, for the hover/focus card. */
export function laneCard(lane: Lane): string[] {
  const lines = [`Reply ${lane.message !== null ? `#${lane.message}` : ""} · ${lane.status || "…"}`.replace("  ", " ")];
  lines.push(`Model: ${lane.models.join(" → ") || "unknown"}`);
  if (lane.live) lines.push(`Running: ${formatDuration(lane.end - lane.start)}`);
  if (lane.firstTokenS !== null) lines.push(`First token: ${formatSeconds(lane.firstTokenS)}`);
  if (lane.durationS !== null) lines.push(`Duration: ${formatSeconds(lane.durationS)}`);
  if (lane.inputTokens !== null || lane.outputTokens !== null) {
    const cached = lane.cacheReadTokens ? ` (${count(lane.cacheReadTokens)} cached)` : "";
    lines.push(`Tokens: ${count(lane.inputTokens ?? 0)} in${cached}, ${count(lane.outputTokens ?? 0)} out`);
  }
  if (lane.cost !== null) lines.push(`Cost: ${formatCost(lane.cost)}`);
  if (lane.retries) lines.push(`Retries: ${lane.retries} (waited ${formatSeconds(lane.retryWaitS)})`);
  for (const m of lane.marks) if (m.kind === "failover" || m.kind === "tool") lines.push(capitalize(m.label));
  if (lane.errorKind || lane.error) lines.push(`Error: ${[lane.errorKind, lane.error].filter(Boolean).join(": ")}`);
  return lines;
}

/** The accessible name of a lane: its card on one line. */
export function laneSummary(lane: Lane): string {
  return laneCard(lane).join(". ");
}

export function switchCard(s: SwitchMarker): string[] {
  const lines = [`Model switch${s.message !== null ? ` before message #${s.message}` : ""}`,
    `${s.from ?? "?"} → ${s.to ?? "?"}`];
  if (s.reason) lines.push(`Reason: ${s.reason}`);
  return lines;
}

/** `0.42 s`, `12.3 s`: seconds with useful precision (short latencies matter here). */
export function formatSeconds(seconds: number): string {
  if (seconds < 1) return `${seconds.toFixed(2)} s`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  return formatDuration(seconds);
}

/** The clock time of `time` (epoch seconds) as HH:MM:SS in the browser's time zone. */
export function clockTime(time: number): string {
  const d = new Date(time * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

/** `3 min` idle, for a break of the axis. */
export function gapText(seconds: number): string {
  return formatDuration(seconds).replace(/ 0?0 s$/, "");
}

/** The rows of the per-model table, formatted. */
export function totalsRow(t: ModelTotals): string[] {
  return [
    t.model,
    String(t.replies),
    t.failed ? `${t.failed} (${Math.round((t.failure_rate ?? 0) * 100)}%)` : "0",
    t.ttft_median_s !== null ? formatSeconds(t.ttft_median_s) : "—",
    t.ttft_p90_s !== null ? formatSeconds(t.ttft_p90_s) : "—",
    t.tokens_per_s !== null ? `${t.tokens_per_s < 10 ? t.tokens_per_s.toFixed(1) : Math.round(t.tokens_per_s)}` : "—",
    count(t.input_tokens + t.output_tokens),
    formatCost(t.cost),
  ];
}

export const TOTALS_COLUMNS = ["Model", "Replies", "Failed", "First token (median)", "First token (p90)", "Tokens/s",
  "Tokens", "Cost"];

const INTEGER = new Intl.NumberFormat("en-US");

function count(n: number): string {
  return INTEGER.format(n);
}

function capitalize(text: string): string {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}
