/**
 * The hub panel: every session of the notebook with model, status, message count, last activity,
 * tokens and cost; how many are streaming; Stop, Close, Delete (confirmed) and Open chat; a
 * notice when a session with no chat on screen finishes a reply; and the jobs (maps) still running.
 */

import type { AnyModel } from "./anywidget";
import { Subscriptions } from "./anywidget";
import { button, h } from "./dom";
import { formatCost, formatTokens, relativeTime, shortModelName } from "./format";
import { jobProgressText, jobStateText } from "./jobs";
import type { FinishedMsg, JobRow, NoticeMsg, PanelTraits, PanelViewMsg, SessionRow } from "./protocol";
import { isOnScreen } from "./visibility";

const STATUS_TEXT: Record<string, string> = {
  idle: "idle", streaming: "streaming", closed: "closed", stored: "stored",
};

export class PanelView {
  readonly el: HTMLElement;
  private readonly subs: Subscriptions<PanelTraits>;
  private readonly summary: HTMLElement;
  private readonly notices: HTMLElement;
  private readonly body: HTMLTableSectionElement;
  private readonly empty: HTMLElement;
  private readonly jobs: HTMLElement;
  private readonly jobBody: HTMLTableSectionElement;
  private confirming: string | null = null;
  private readonly timer: number;

  constructor(private readonly model: AnyModel<PanelTraits>) {
    this.subs = new Subscriptions(model);
    this.summary = h("span", { class: "ais-panel-summary", attrs: { "aria-live": "polite" } });
    const refresh = button("↻", "Refresh", () => this.act({ type: "refresh" }), "ais-quiet");
    const header = h("div", { class: "ais-header" }, h("span", { class: "ais-title", text: "AI sessions" }),
      this.summary, h("span", { class: "ais-spacer" }), refresh);
    this.notices = h("div", { class: "ais-panel-notices", attrs: { role: "status", "aria-live": "polite" } });
    const columns = ["Session", "Model", "Status", "Messages", "Last activity", "Tokens", "Cost", "Actions"];
    const numeric = new Set(["Messages", "Tokens", "Cost"]);
    const head = h("thead", {}, h("tr", {}, ...columns.map((c) =>
      h("th", { text: c, class: numeric.has(c) ? "ais-num" : "", attrs: { scope: "col" } }))));
    this.body = h("tbody");
    const table = h("table", { class: "ais-panel-table", attrs: { "aria-label": "Sessions" } }, head, this.body);
    this.empty = h("p", { class: "ais-panel-empty", text: "No sessions yet: hub().session(\"name\").chat() starts one." });
    const jobColumns = ["Job", "Session", "Mode", "Model", "State", "Progress"];
    this.jobBody = h("tbody");
    this.jobs = h("div", { class: "ais-panel-jobs" },
      h("div", { class: "ais-panel-jobs-title", text: "Running jobs" }),
      h("table", { class: "ais-panel-table", attrs: { "aria-label": "Running jobs" } },
        h("thead", {}, h("tr", {}, ...jobColumns.map((c) => h("th", { text: c, attrs: { scope: "col" } })))),
        this.jobBody));
    this.el = h("section", { class: "ais-panel", attrs: { "aria-label": "AI sessions hub" } },
      header, this.notices, table, this.empty, this.jobs);
    this.subs.on("change:sessions", () => this.render());
    this.subs.on("change:jobs", () => this.renderJobs());
    this.subs.on("msg:custom", ((msg: FinishedMsg | NoticeMsg) => {
      if (msg.type === "finished") this.onFinished(msg);
      else if (msg.type === "notice") this.showNotice(msg.text);
    }) as (...args: never[]) => void);
    this.timer = window.setInterval(() => this.render(), 15000);
    this.render();
    this.renderJobs();
  }

  private renderJobs(): void {
    const rows = this.model.get("jobs") ?? [];
    this.jobs.hidden = rows.length === 0;
    this.jobBody.replaceChildren(...rows.map((r) => this.jobRow(r)));
  }

  private jobRow(r: JobRow): HTMLTableRowElement {
    return h("tr", { attrs: { "data-job": r.id, "data-state": r.state } },
      h("th", { text: r.id.slice(0, 8), title: `hub.job("${r.id}")`, attrs: { scope: "row" } }),
      h("td", { text: r.session }),
      h("td", { text: r.mode }),
      h("td", { text: shortModelName(r.model), title: r.model }),
      h("td", {}, h("span", { class: `ais-status ais-status-${r.state === "interrupted" ? "stopped" : "streaming"}`,
        text: jobStateText(r) })),
      h("td", { text: jobProgressText(r) }));
  }

  dispose(): void {
    this.subs.dispose();
    window.clearInterval(this.timer);
  }

  private act(msg: PanelViewMsg): void {
    this.model.send(msg);
  }

  private showNotice(text: string): void {
    const dismiss = button("×", "Dismiss notice", () => item.remove(), "ais-quiet");
    const item = h("div", { class: "ais-panel-notice ais-status-failed" }, h("span", { text }), dismiss);
    this.notices.appendChild(item);
  }

  private onFinished(msg: FinishedMsg): void {
    if (isOnScreen(msg.session_id)) return;
    const verb = msg.status === "complete" ? "finished" : msg.status;
    const open = button("Open chat", `Open chat ${msg.name}`, () => {
      this.act({ type: "open", session_id: msg.session_id });
      item.remove();
    }, "ais-quiet");
    const dismiss = button("×", `Dismiss notice about ${msg.name}`, () => item.remove(), "ais-quiet");
    const item = h("div", { class: `ais-panel-notice ais-status-${msg.status}`, attrs: { "data-session": msg.session_id } },
      h("span", { text: `“${msg.name}” ${verb} while not on screen.` }), open, dismiss);
    this.notices.querySelector(`[data-session="${CSS.escape(msg.session_id)}"]`)?.remove();
    this.notices.appendChild(item);
  }

  private render(): void {
    const rows = this.model.get("sessions") ?? [];
    const streaming = rows.filter((r) => r.status === "streaming").length;
    const tokens = rows.reduce((n, r) => n + r.input_tokens + r.output_tokens, 0);
    const costs = rows.map((r) => r.cost).filter((c): c is number => c !== null);
    const cost = costs.length ? costs.reduce((a, b) => a + b, 0) : null;
    this.summary.textContent = `${rows.length} session${rows.length === 1 ? "" : "s"} · ${streaming} streaming · ` +
      `${formatTokens(tokens)} · ${formatCost(cost)}`;
    this.empty.hidden = rows.length > 0;
    const focused = document.activeElement?.getAttribute("aria-label") ?? null;
    this.body.replaceChildren(...rows.map((r) => this.row(r)));
    if (focused) {
      const again = Array.from(this.body.querySelectorAll<HTMLElement>("[aria-label]")).find(
        (e) => e.getAttribute("aria-label") === focused);
      again?.focus();
    }
  }

  private row(r: SessionRow): HTMLTableRowElement {
    const now = Date.now() / 1000;
    const actions = h("td", { class: "ais-panel-actions" });
    if (this.confirming === r.id) {
      actions.append(
        h("span", { text: `Delete “${r.name}” and its history?` }),
        button("Delete", `Confirm delete ${r.name}`, () => {
          this.confirming = null;
          this.act({ type: "delete", session_id: r.id });
        }, "ais-danger"),
        button("Cancel", `Cancel delete ${r.name}`, () => {
          this.confirming = null;
          this.render();
        }, "ais-quiet"),
      );
    } else {
      if (r.status === "streaming") actions.append(button("Stop", `Stop ${r.name}`, () => this.act({ type: "stop", session_id: r.id }), "ais-danger"));
      if (r.live) actions.append(button("Close", `Close ${r.name}`, () => this.act({ type: "close", session_id: r.id }), "ais-quiet"));
      actions.append(
        button("Open chat", `Open chat ${r.name}`, () => this.act({ type: "open", session_id: r.id }), "ais-quiet"),
        button("Delete", `Delete ${r.name}`, () => {
          this.confirming = r.id;
          this.render();
          this.body.querySelector<HTMLButtonElement>(`[aria-label="Confirm delete ${CSS.escape(r.name)}"]`)?.focus();
        }, "ais-quiet"),
      );
    }
    const status = h("span", { class: `ais-status ais-status-${r.status}`, text: STATUS_TEXT[r.status] ?? r.status });
    return h("tr", { attrs: { "data-session": r.id, "data-status": r.status } },
      h("th", { text: r.name, attrs: { scope: "row" } }),
      h("td", { text: shortModelName(r.model), title: r.model }),
      h("td", {}, status),
      h("td", { class: "ais-num", text: String(r.message_count) }),
      h("td", { text: r.last_activity ? relativeTime(r.last_activity, now) : "—", title: r.last_activity ? new Date(r.last_activity * 1000).toLocaleString() : "" }),
      h("td", { class: "ais-num", text: (r.input_tokens + r.output_tokens).toLocaleString("en-US"), title: `${r.input_tokens} in, ${r.output_tokens} out` }),
      h("td", { class: "ais-num", text: formatCost(r.cost) }),
      actions);
  }
}
