/**
 * The hub panel: every session of the notebook with model, status, message count, last activity,
 * tokens and cost; how many are streaming; Stop, Close, Delete (confirmed) and Open chat; a notice when a
 * session with no chat on screen finishes a reply; and the jobs (maps) still running.
 * A panel that lost its kernel side (kernel restarted, or restored from a saved notebook) marks itself
 * stale: it says so, its rows are as last known, and its buttons are disabled.
 *
 * In a narrow output the table scrolls sideways inside the panel, the session names staying in view.
 * Costs: `—` unknown, `≥ $x` when some replies' prices are unknown (the sum is a floor).
 */

import type { AnyModel } from "./anywidget";
import { Subscriptions } from "./anywidget";
import type { ConnectionState } from "./chat_view";
import { button, h, withCode } from "./dom";
import { formatCost, formatTokens, relativeTime, shortModelName } from "./format";
import { jobProgressText, jobStateText } from "./jobs";
import { PanelSearch } from "./panel_search";
import type { FinishedMsg, InlineChat, JobRow, NoticeMsg, PanelTraits, PanelViewMsg, SearchResultsMsg, SessionRow } from "./protocol";
import { canOpenTabs } from "./tab_watch";
import { isOnScreen } from "./visibility";

/** What we use of the widget manager to show a chat inside the panel. */
interface ViewMaker {
  get_model(id: string): Promise<unknown>;
  create_view(model: unknown, options?: unknown): Promise<{ el: HTMLElement; remove(): void }>;
}

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
  private readonly refresh: HTMLButtonElement;
  private readonly stale: HTMLElement;
  private readonly inline: HTMLElement;
  private readonly inlineViews = new Map<string, { el: HTMLElement; remove(): void } | null>();
  private readonly jobs: HTMLElement;
  private readonly jobBody: HTMLTableSectionElement;
  private confirming: string | null = null;
  private readonly timer: number;
  /** The Search sessions box (panel_search.ts). */
  private readonly search: PanelSearch;

  constructor(
    private readonly model: AnyModel<PanelTraits>,
    private readonly connection: ConnectionState = { connected: true },
  ) {
    this.subs = new Subscriptions(model);
    this.summary = h("span", { class: "ais-panel-summary", attrs: { "aria-live": "polite" } });
    this.refresh = button("↻", "Refresh", () => this.act({ type: "refresh" }), "ais-quiet");
    const header = h("div", { class: "ais-header" }, h("span", { class: "ais-title", text: "AI sessions" }),
      this.summary, h("span", { class: "ais-spacer" }), this.refresh);
    this.stale = h("div", { class: "ais-panel-stale", attrs: { role: "status" },
      text: "Disconnected — run the cell again to reconnect. Sessions as they were when last seen." });
    this.notices = h("div", { class: "ais-panel-notices", attrs: { role: "status", "aria-live": "polite" } });
    const columns = ["Session", "Model", "Status", "Messages", "Last activity", "Tokens", "Cost", "Actions"];
    const numeric = new Set(["Messages", "Tokens", "Cost"]);
    const head = h("thead", {}, h("tr", {}, ...columns.map((c) =>
      h("th", { text: c, class: numeric.has(c) ? "ais-num" : "", attrs: { scope: "col" } }))));
    this.body = h("tbody");
    const table = h("table", { class: "ais-panel-table", attrs: { "aria-label": "Sessions" } }, head, this.body);
    // a scroll container that is a tab stop, so keyboard users can scroll it too
    const scroller = h("div", { class: "ais-panel-scroll", attrs: { role: "region", "aria-label": "Sessions table", tabindex: "0" } }, table);
    this.empty = h("p", { class: "ais-panel-empty" }, ...withCode("No sessions yet: `hub().session(\"name\").chat()` starts one."));
    this.inline = h("div", { class: "ais-panel-inline" });
    const jobColumns = ["Job", "Session", "Mode", "Model", "State", "Progress"];
    this.jobBody = h("tbody");
    this.jobs = h("div", { class: "ais-panel-jobs" },
      h("div", { class: "ais-panel-jobs-title", text: "Running jobs" }),
      h("div", { class: "ais-panel-scroll", attrs: { role: "region", "aria-label": "Running jobs table", tabindex: "0" } },
        h("table", { class: "ais-panel-table", attrs: { "aria-label": "Running jobs" } },
          h("thead", {}, h("tr", {}, ...jobColumns.map((c) => h("th", { text: c, attrs: { scope: "col" } })))),
          this.jobBody)));
    this.search = new PanelSearch((msg) => this.act(msg),
      (hit) => this.act({ type: "open", session_id: hit.session_id, tabs: canOpenTabs(), message_id: hit.message_id }));
    this.el = h("section", { class: "ais-panel", attrs: { "aria-label": "AI sessions hub" } },
      header, this.stale, this.notices, this.search.el, scroller, this.empty, this.jobs, this.inline);
    this.subs.on("change:sessions", () => this.render());
    this.subs.on("change:jobs", () => this.renderJobs());
    this.subs.on("change:inline_chats", () => void this.renderInline());
    this.subs.on("msg:custom", ((msg: FinishedMsg | NoticeMsg | SearchResultsMsg) => {
      if (msg.type === "finished") this.onFinished(msg);
      else if (msg.type === "notice") this.showNotice(msg.text);
      else if (msg.type === "search_results") this.search.onResults(msg);
    }) as (...args: never[]) => void);
    this.timer = window.setInterval(() => this.render(), 15000);
    this.render();
    void this.renderInline();
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
    this.search.dispose();
    window.clearInterval(this.timer);
    for (const view of this.inlineViews.values()) view?.remove();
    this.inlineViews.clear();
  }

  /**
   * Chats shown in the panel (where no tab can open): one view of each chat widget, made by the widget
   * manager, under a line saying why it is here.
   */
  private async renderInline(): Promise<void> {
    const chats = this.model.get("inline_chats") ?? [];
    const ids = new Set(chats.map((c) => c.model_id));
    for (const [id, view] of this.inlineViews) {
      if (ids.has(id)) continue;
      view?.remove();
      this.inlineViews.delete(id);
      this.inline.querySelector(`[data-model="${CSS.escape(id)}"]`)?.remove();
    }
    const manager = this.model.widget_manager as unknown as ViewMaker | undefined;
    for (const chat of chats) {
      if (this.inlineViews.has(chat.model_id) || !manager?.get_model) continue;
      this.inlineViews.set(chat.model_id, null);
      const item = this.inlineItem(chat);
      this.inline.appendChild(item);
      try {
        const view = await manager.create_view(await manager.get_model(chat.model_id));
        if (!this.inlineViews.has(chat.model_id)) {
          view.remove();
          continue;
        }
        this.inlineViews.set(chat.model_id, view);
        item.appendChild(view.el);
      } catch {
        item.append(h("span", { text: " (this chat could not be shown)" }));
      }
    }
  }

  private inlineItem(chat: InlineChat): HTMLElement {
    const close = button("×", `Close chat ${chat.name} shown here`, () => {
      this.act({ type: "close_inline", model_id: chat.model_id });
    }, "ais-quiet");
    return h("div", { class: "ais-panel-inline-chat", attrs: { "data-model": chat.model_id } },
      h("div", { class: "ais-panel-notice" }, h("span", { text: `Tabs need JupyterLab: “${chat.name}” is shown here.` }),
        h("span", { class: "ais-spacer" }), close));
  }

  /** The connection was lost: mark the panel stale. */
  disconnected(): void {
    this.confirming = null;
    this.render();
  }

  private act(msg: PanelViewMsg): void {
    if (!this.connection.connected) return;
    try {
      this.model.send(msg);
    } catch {
      // the comm is gone: the connection check tells
    }
  }

  private showNotice(text: string): void {
    const dismiss = button("×", "Dismiss notice", () => item.remove(), "ais-quiet");
    const item = h("div", { class: "ais-panel-notice ais-status-failed" }, h("span", {}, ...withCode(text)), dismiss);
    this.notices.appendChild(item);
  }

  private onFinished(msg: FinishedMsg): void {
    if (isOnScreen(msg.session_id)) return;
    const verb = msg.status === "complete" ? "finished" : msg.status;
    const open = button("Open chat", `Open chat ${msg.name}`, () => {
      this.act({ type: "open", session_id: msg.session_id, tabs: canOpenTabs() });
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
    const live = this.connection.connected;
    this.el.dataset.connection = live ? "live" : "lost";
    this.stale.hidden = live;
    this.refresh.disabled = !live;
    this.search.disabled = !live;
    const streaming = rows.filter((r) => r.status === "streaming").length;
    const tokens = rows.reduce((n, r) => n + r.input_tokens + r.output_tokens, 0);
    const costs = rows.map((r) => r.cost).filter((c): c is number => c !== null);
    const cost = costs.length ? costs.reduce((a, b) => a + b, 0) : null;
    // a floor when a session's own total is one, or when a session with tokens has no known price at all
    const partial = rows.some((r) => r.cost_partial || (r.cost === null && r.input_tokens + r.output_tokens > 0));
    this.summary.textContent = `${rows.length} session${rows.length === 1 ? "" : "s"} · ` +
      `${live ? `${streaming} streaming` : "stale"} · ${formatTokens(tokens)} · ${formatCost(cost, partial)}`;
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
    const actions = h("div", { class: "ais-panel-actions" });
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
      if (r.status === "streaming" && this.connection.connected) actions.append(button("Stop", `Stop ${r.name}`, () => this.act({ type: "stop", session_id: r.id }), "ais-danger"));
      if (r.live) actions.append(button("Close", `Close ${r.name}`, () => this.act({ type: "close", session_id: r.id }), "ais-quiet"));
      actions.append(
        button("Open chat", `Open chat ${r.name}`, () => this.act({ type: "open", session_id: r.id, tabs: canOpenTabs() }),
          "ais-quiet"),
        button("Inspect", `Inspect ${r.name}`, () => this.act({ type: "inspect", session_id: r.id }), "ais-quiet"),
        button("Delete", `Delete ${r.name}`, () => {
          this.confirming = r.id;
          this.render();
          this.body.querySelector<HTMLButtonElement>(`[aria-label="Confirm delete ${CSS.escape(r.name)}"]`)?.focus();
        }, "ais-quiet"),
      );
    }
    const live = this.connection.connected;
    for (const b of actions.querySelectorAll("button")) b.disabled = !live;
    const known = STATUS_TEXT[r.status] ?? r.status;
    const status = h("span", { class: `ais-status ais-status-${live ? r.status : "stale"}`,
      text: live ? known : `${known} (stale)`, title: live ? "" : "last known status: not connected to the kernel" });
    return h("tr", { attrs: { "data-session": r.id, "data-status": r.status } },
      h("th", { text: r.name, title: r.name, attrs: { scope: "row" } }),
      h("td", { text: shortModelName(r.model), title: r.model }),
      h("td", {}, status),
      h("td", { class: "ais-num", text: String(r.message_count) }),
      h("td", { text: r.last_activity ? relativeTime(r.last_activity, now) : "—", title: r.last_activity ? new Date(r.last_activity * 1000).toLocaleString() : "" }),
      h("td", { class: "ais-num", text: (r.input_tokens + r.output_tokens).toLocaleString("en-US"), title: `${r.input_tokens} in, ${r.output_tokens} out` }),
      h("td", { class: "ais-num", text: formatCost(r.cost, r.cost_partial ?? false),
        title: r.cost_partial ? "some replies' prices are unknown: the cost is at least this" : "" }),
      h("td", {}, actions));
  }
}
