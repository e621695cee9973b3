/**
 * The inspector view: a session's replies as lanes on a time axis (waiting for the first token and
 * streaming drawn apart; retries, failovers, failures and stops marked; model switches as vertical
 * markers), a card with the numbers on hover or keyboard focus, and the totals per model below.
 *
 * Keyboard: the lanes are one tab stop (arrow keys, Home and End move between them); each switch marker
 * is a button. The card is also each element's accessible description.
 */

import type { AnyModel } from "./anywidget";
import { Subscriptions } from "./anywidget";
import { h } from "./dom";
import { formatCost } from "./format";
import { cancelFrame, requestFrame, type FrameWork } from "./frame";
import {
  buildAxis, buildPicture, clockTime, gapText, laneCard, laneLabel, laneSummary, pictureSpans, switchCard,
  TOTALS_COLUMNS, totalsRow, type Axis, type InspectorTraits, type InspectorViewMsg, type Lane, type Picture,
  type SwitchMarker,
} from "./inspector_model";

const SVG = "http://www.w3.org/2000/svg";
const LABEL_PX = 150;
const BAR_PX = 12;
const MIN_PLOT_PX = 240;
/** Redraws per second of a lane that is still streaming. */
const LIVE_TICK_MS = 250;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, title?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  if (title) {
    const t = document.createElementNS(SVG, "title");
    t.textContent = title;
    el.appendChild(t);
  }
  return el;
}

export class InspectorView implements FrameWork {
  readonly el: HTMLElement;
  private readonly subs: Subscriptions<InspectorTraits>;
  private readonly title: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly plot: HTMLElement;
  private readonly axisRow: HTMLElement;
  private readonly lanesEl: HTMLOListElement;
  private readonly empty: HTMLElement;
  private readonly card: HTMLElement;
  private readonly totalsBody: HTMLTableSectionElement;
  private readonly laneEls = new Map<string, HTMLLIElement>();
  private picture: Picture = { lanes: [], switches: [] };
  private axis: Axis | null = null;
  /** Kernel clock minus browser clock, in seconds (the lanes are in kernel time). */
  private offset = 0;
  private focusId: string | null = null;
  private cardFor: string | null = null;
  private timer: number | undefined;
  private readonly resize: ResizeObserver | null;
  private width = 0;
  private disposed = false;

  constructor(private readonly model: AnyModel<InspectorTraits>) {
    this.subs = new Subscriptions(model);
    this.title = h("span", { class: "ais-title" });
    this.summary = h("span", { class: "ais-inspector-summary" });
    const legend = h("span", { class: "ais-inspector-legend", attrs: { "aria-hidden": "true" } },
      ...[["waiting", "waiting for first token"], ["streaming", "streaming"], ["retry", "retry"],
        ["failure", "failure"], ["switch", "model switch"]].map(([cls, text]) =>
        h("span", { class: "ais-legend-item" }, h("span", { class: `ais-legend-swatch ais-legend-${cls}` }), text)));
    const header = h("div", { class: "ais-header" }, this.title, this.summary, h("span", { class: "ais-spacer" }), legend);
    this.notice = h("div", { class: "ais-inspector-notice", attrs: { role: "status" } });
    this.axisRow = h("div", { class: "ais-inspector-axis" });
    this.lanesEl = h("ol", { class: "ais-inspector-lanes", attrs: { "aria-label": "Replies on a time axis" } });
    this.lanesEl.addEventListener("keydown", (e) => this.onKey(e));
    this.empty = h("p", { class: "ais-inspector-empty", text: "No replies yet: the timeline fills as the session replies." });
    this.card = h("div", { class: "ais-inspector-card", attrs: { id: `ais-card-${Math.random().toString(36).slice(2)}`, role: "tooltip" } });
    this.card.hidden = true;
    this.plot = h("div", { class: "ais-inspector-plot" }, this.axisRow, this.lanesEl, this.empty);
    this.totalsBody = h("tbody");
    const totals = h("table", { class: "ais-inspector-totals", attrs: { "aria-label": "Totals per model" } },
      h("thead", {}, h("tr", {}, ...TOTALS_COLUMNS.map((c, i) => h("th", { text: c, class: i ? "ais-num" : "", attrs: { scope: "col" } })))),
      this.totalsBody);
    this.el = h("section", { class: "ais-inspector", attrs: { "aria-label": "AI session inspector" } },
      header, this.notice, this.plot, this.card, totals);
    this.plot.addEventListener("mouseleave", () => this.hideCard());
    this.plot.addEventListener("scroll", () => this.hideCard());

    this.subs.on("change:events", () => this.refresh());
    this.subs.on("change:live", () => this.refresh());
    this.subs.on("change:clock", () => this.syncClock());
    this.subs.on("change:totals", () => this.renderTotals());
    this.subs.on("change:session_name", () => this.renderHeader());
    this.subs.on("change:session_state", () => this.renderHeader());
    this.subs.on("change:hidden_replies", () => this.renderHeader());
    this.resize = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(() => {
      if (this.el.clientWidth !== this.width) requestFrame(this);
    });
    this.resize?.observe(this.el);
    this.syncClock();
    this.renderHeader();
    this.renderTotals();
    this.refresh();
    this.model.send({ type: "view", open: true } satisfies InspectorViewMsg);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    cancelFrame(this);
    this.resize?.disconnect();
    if (this.timer !== undefined) window.clearInterval(this.timer);
    this.subs.dispose();
    try {
      this.model.send({ type: "view", open: false } satisfies InspectorViewMsg);
    } catch {
      // the model is already gone
    }
  }

  /** The kernel's time now, as far as this view can tell. */
  private now(): number {
    return Date.now() / 1000 + this.offset;
  }

  private syncClock(): void {
    const clock = this.model.get("clock");
    if (clock) this.offset = clock - Date.now() / 1000;
  }

  private refresh(): void {
    const live = this.model.get("live") ?? {};
    if (live.message_id && this.timer === undefined) {
      this.timer = window.setInterval(() => requestFrame(this), LIVE_TICK_MS);
    } else if (!live.message_id && this.timer !== undefined) {
      window.clearInterval(this.timer);
      this.timer = undefined;
    }
    requestFrame(this);
  }

  /** Frame work: rebuild the picture from the traits and draw it. */
  write(): void {
    if (this.disposed) return;
    this.picture = buildPicture(this.model.get("events") ?? [], this.model.get("live") ?? {}, this.now());
    this.width = this.el.clientWidth;
    const plotWidth = Math.max(MIN_PLOT_PX, (this.width || 720) - LABEL_PX - 24);
    this.axis = buildAxis(pictureSpans(this.picture), plotWidth);
    this.renderAxis();
    this.renderLanes();
    this.renderSummary();
    if (this.cardFor) this.showCard(this.cardFor);
  }

  // -- header and totals -------------------------------------------------------------------------
  private renderHeader(): void {
    const name = this.model.get("session_name") || "session";
    this.title.textContent = `Inspector · ${name}`;
    this.el.setAttribute("aria-label", `AI session inspector: ${name}`);
    const texts: string[] = [];
    const state = this.model.get("session_state");
    if (state === "deleted") texts.push("This session was deleted.");
    const hidden = this.model.get("hidden_replies") ?? 0;
    if (hidden > 0) texts.push(`${hidden} older ${hidden === 1 ? "reply is" : "replies are"} not drawn (the totals count them).`);
    this.notice.textContent = texts.join(" ");
    this.notice.hidden = texts.length === 0;
  }

  private renderSummary(): void {
    const lanes = this.picture.lanes;
    const costs = (this.model.get("totals") ?? []).map((t) => t.cost).filter((c): c is number => c !== null);
    const cost = costs.length ? costs.reduce((a, b) => a + b, 0) : null;
    const live = lanes.some((l) => l.live) ? " · replying" : "";
    this.summary.textContent = `${lanes.length} ${lanes.length === 1 ? "reply" : "replies"} · ` +
      `${this.picture.switches.length} ${this.picture.switches.length === 1 ? "switch" : "switches"} · ${formatCost(cost)}${live}`;
    this.empty.hidden = lanes.length > 0 || this.picture.switches.length > 0;
  }

  private renderTotals(): void {
    const rows = this.model.get("totals") ?? [];
    this.totalsBody.replaceChildren(...rows.map((t) => h("tr", {}, ...totalsRow(t).map((text, i) =>
      i === 0 ? h("th", { text, attrs: { scope: "row" } }) : h("td", { text, class: "ais-num" })))));
    requestFrame(this);
  }

  // -- axis -------------------------------------------------------------------------------------------
  private renderAxis(): void {
    const axis = this.axis;
    if (!axis) return;
    const row = svg("svg", { class: "ais-axis-svg", width: axis.width + 2, height: 18, "aria-hidden": "true" });
    for (const block of axis.blocks) {
      row.appendChild(svg("line", { class: "ais-axis-line", x1: block.x, x2: block.x + block.width, y1: 17, y2: 17 }));
      const label = svg("text", { class: "ais-axis-text", x: block.x + 1, y: 11 });
      label.textContent = clockTime(block.start);
      row.appendChild(label);
    }
    const last = axis.blocks.at(-1);
    if (last && last.width > 120) {  // where the picture ends, if there is room for it
      const end = svg("text", { class: "ais-axis-text", x: last.x + last.width, y: 11, "text-anchor": "end" });
      end.textContent = clockTime(last.end);
      row.appendChild(end);
    }
    for (const gap of axis.breaks) {
      const mark = svg("text", { class: "ais-axis-break", x: gap.x + 11, y: 12, "text-anchor": "middle" },
        `${gapText(gap.seconds)} idle`);
      mark.appendChild(document.createTextNode("⋯"));
      row.appendChild(mark);
    }
    const flags = h("div", { class: "ais-switch-flags" });
    this.picture.switches.forEach((s, i) => {
      const flag = h("button", {
        class: "ais-switch-flag", text: "▾",
        attrs: { type: "button", "aria-label": switchCard(s).join(". "), "data-switch": String(i), "aria-describedby": this.card.id },
      });
      flag.style.left = `${LABEL_PX + axis.toX(s.time) - 6}px`;
      flag.addEventListener("focus", () => this.showSwitch(s, flag));
      flag.addEventListener("mouseenter", () => this.showSwitch(s, flag));
      flag.addEventListener("blur", () => this.hideCard());
      flag.addEventListener("click", () => this.showSwitch(s, flag));
      flags.appendChild(flag);
    });
    const spacer = h("span", { class: "ais-axis-spacer" });
    this.axisRow.replaceChildren(spacer, row, flags);
  }

  // -- lanes ------------------------------------------------------------------------------------------
  private renderLanes(): void {
    const axis = this.axis;
    if (!axis) return;
    const seen = new Set<string>();
    const order: HTMLLIElement[] = [];
    const lanes = this.picture.lanes;
    if (!this.focusId || !lanes.some((l) => l.messageId === this.focusId)) this.focusId = lanes.at(-1)?.messageId ?? null;
    for (const lane of lanes) {
      seen.add(lane.messageId);
      let li = this.laneEls.get(lane.messageId);
      if (!li) {
        li = this.newLaneEl(lane.messageId);
        this.laneEls.set(lane.messageId, li);
      }
      this.drawLane(li, lane, axis);
      li.tabIndex = lane.messageId === this.focusId ? 0 : -1;
      order.push(li);
    }
    for (const [id, li] of this.laneEls) {
      if (!seen.has(id)) {
        li.remove();
        this.laneEls.delete(id);
      }
    }
    order.forEach((li, i) => {
      if (this.lanesEl.children[i] !== li) this.lanesEl.insertBefore(li, this.lanesEl.children[i] ?? null);
    });
  }

  private newLaneEl(id: string): HTMLLIElement {
    const li = h("li", { class: "ais-lane", attrs: { "data-message-id": id, "aria-describedby": this.card.id } });
    li.addEventListener("focus", () => {
      this.focusId = id;
      this.showCard(id);
    });
    li.addEventListener("blur", () => this.hideCard());
    li.addEventListener("mouseenter", () => this.showCard(id));
    return li;
  }

  private drawLane(li: HTMLLIElement, lane: Lane, axis: Axis): void {
    li.dataset.status = lane.status;
    li.classList.toggle("ais-lane-live", lane.live);
    li.setAttribute("aria-label", laneSummary(lane));
    const label = h("span", { class: "ais-lane-label", text: laneLabel(lane), title: lane.models.join(" → ") });
    const bar = svg("svg", { class: "ais-lane-svg", width: axis.width + 2, height: BAR_PX + 6, "aria-hidden": "true" });
    const y = 3;
    for (const s of this.picture.switches) {
      const x = axis.toX(s.time);
      bar.appendChild(svg("line", { class: "ais-switch-line", x1: x, x2: x, y1: 0, y2: BAR_PX + 6 }));
    }
    for (const seg of lane.segments) {
      const x = axis.toX(seg.start);
      const w = Math.max(2, axis.toX(seg.end) - x);
      const cls = `ais-seg ais-seg-${seg.kind}${seg.failed ? " ais-seg-failed" : ""}`;
      bar.appendChild(svg("rect", { class: cls, x, y, width: w, height: BAR_PX, rx: 2, "data-model": seg.model }));
    }
    for (const mark of lane.marks) {
      const x = axis.toX(mark.time);
      if (mark.kind === "retry") {
        bar.appendChild(svg("circle", { class: "ais-mark ais-mark-retry", cx: x, cy: y + BAR_PX / 2, r: 3.5 }, mark.label));
      } else if (mark.kind === "failure" || mark.kind === "failover" || mark.kind === "interrupted") {
        const d = `M${x - 4},${y} L${x + 4},${y + BAR_PX} M${x + 4},${y} L${x - 4},${y + BAR_PX}`;
        bar.appendChild(svg("path", { class: `ais-mark ais-mark-${mark.kind}`, d }, mark.label));
      } else if (mark.kind === "stop") {
        bar.appendChild(svg("rect", { class: "ais-mark ais-mark-stop", x: x - 3, y: y + 2, width: 6, height: BAR_PX - 4 }, mark.label));
      } else {
        bar.appendChild(svg("path", { class: "ais-mark ais-mark-tool", d: `M${x},${y} L${x + 4},${y + BAR_PX / 2} L${x},${y + BAR_PX} L${x - 4},${y + BAR_PX / 2} Z` }, mark.label));
      }
    }
    const track = h("span", { class: "ais-lane-track" });
    track.appendChild(bar);
    li.replaceChildren(label, track);
  }

  private onKey(e: KeyboardEvent): void {
    const lanes = this.picture.lanes;
    const index = lanes.findIndex((l) => l.messageId === this.focusId);
    let next = index;
    if (e.key === "ArrowDown" || e.key === "ArrowRight") next = Math.min(lanes.length - 1, index + 1);
    else if (e.key === "ArrowUp" || e.key === "ArrowLeft") next = Math.max(0, index - 1);
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = lanes.length - 1;
    else if (e.key === "Escape") {
      this.hideCard();
      return;
    } else return;
    e.preventDefault();
    e.stopPropagation(); // keep JupyterLab's notebook shortcuts out
    const target = lanes[next];
    if (!target) return;
    this.focusId = target.messageId;
    for (const [id, li] of this.laneEls) li.tabIndex = id === this.focusId ? 0 : -1;
    this.laneEls.get(target.messageId)?.focus();
  }

  // -- the card -----------------------------------------------------------------------------------------
  private showCard(id: string): void {
    const lane = this.picture.lanes.find((l) => l.messageId === id);
    const li = this.laneEls.get(id);
    if (!lane || !li || !this.axis) return;
    this.cardFor = id;
    this.fillCard(laneCard(lane));
    this.placeCard(li, LABEL_PX + Math.min(this.axis.toX(lane.end), this.axis.width));
  }

  private showSwitch(s: SwitchMarker, flag: HTMLElement): void {
    if (!this.axis) return;
    this.cardFor = null;
    this.fillCard(switchCard(s));
    this.placeCard(flag, flag.offsetLeft);
  }

  private fillCard(lines: string[]): void {
    const rows = lines.slice(1).map((line) => {
      const colon = line.indexOf(": ");
      const label = line.slice(0, colon);
      const long = label === "Error" || label === "Reason";  // free text wraps; numbers stay on one line
      return colon > 0 ? [h("dt", { text: label }), h("dd", { text: line.slice(colon + 2), class: long ? "ais-card-text" : "" })]
        : [h("dd", { class: "ais-card-wide", text: line })];
    });
    this.card.replaceChildren(h("strong", { text: lines[0] }), h("dl", {}, ...rows.flat()));
    this.card.hidden = false;
  }

  /**
   * Put the card next to `anchor` (at `x` pixels from the plot's left edge), inside the inspector: the
   * output area around a widget scrolls whatever sticks out of it.
   */
  private placeCard(anchor: HTMLElement, x: number): void {
    const box = this.el.getBoundingClientRect();
    const at = anchor.getBoundingClientRect();
    const plot = this.plot.getBoundingClientRect();
    const width = this.card.offsetWidth;
    const height = this.card.offsetHeight;
    const left = plot.left - box.left + 8 + x + 8;
    this.card.style.left = `${Math.max(4, Math.min(left, box.width - width - 4))}px`;
    let top = at.bottom - box.top + 2;
    if (top + height > box.height) top = at.top - box.top - height - 2;
    this.card.style.top = `${Math.max(0, Math.min(top, box.height - height))}px`;
  }

  private hideCard(): void {
    this.cardFor = null;
    this.card.hidden = true;
  }
}
