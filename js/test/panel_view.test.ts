// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { PanelView } from "../src/panel_view";
import type { PanelTraits, SessionRow } from "../src/protocol";
import { FakeModel } from "./fake_model";

function row(name: string, over: Partial<SessionRow> = {}): SessionRow {
  return {
    id: name, name, model: "local:smollm2", status: "idle", message_count: 2, last_activity: 0, input_tokens: 10,
    output_tokens: 5, cost: 0, cost_partial: false, live: true, ...over,
  };
}

let view: PanelView | null = null;
afterEach(() => view?.dispose());

function panel(rows: SessionRow[]): PanelView {
  view = new PanelView(new FakeModel<PanelTraits>({ sessions: rows }));
  return view;
}

const cost = (p: PanelView, name: string): string | undefined =>
  p.el.querySelector(`tr[data-session="${name}"]`)?.querySelectorAll("td")[5]?.textContent ?? undefined;

describe("hub panel costs", () => {
  it("shows a floor for a partly priced session, a dash for an unpriced one, and sums to a floor", () => {
    const p = panel([
      row("mixed", { cost: 0, cost_partial: true }),
      row("unpriced", { model: "fake:echo", cost: null }),
      row("local", { cost: 0 }),
      row("claude", { model: "anthropic:claude-haiku-4-5-20251001", cost: 0.0123 }),
    ]);
    expect(cost(p, "mixed")).toBe("≥ $0");
    expect(cost(p, "unpriced")).toBe("—");
    expect(cost(p, "local")).toBe("$0");
    expect(cost(p, "claude")).toBe("$0.01");
    expect(p.el.querySelector(".ais-panel-summary")?.textContent).toMatch(/· ≥ \$0\.01$/);
    // one short name everywhere: the row says what the chat's badge says
    expect(p.el.querySelector('tr[data-session="claude"] td')?.textContent).toBe("haiku-4-5");
  });

  it("keeps the table in a region that scrolls sideways", () => {
    const p = panel([row("a")]);
    const region = p.el.querySelector("[role=region]");
    expect(region?.getAttribute("aria-label")).toBe("Sessions table");
    expect(region?.querySelector("table")).not.toBeNull();
    expect(region?.getAttribute("tabindex")).toBe("0");
  });
});

describe("hub panel search", () => {
  it("searches as words are typed, shows hits with the matched words marked, and opens one at its message", () => {
    const model = new FakeModel<PanelTraits>({ sessions: [row("a")] });
    view = new PanelView(model);
    const box = view.el.querySelector<HTMLInputElement>('[aria-label="Search sessions"]') as HTMLInputElement;
    box.value = "missing values";
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.takeSent()).toEqual([{ type: "search", query: "missing values", all_scopes: false }]);
    model.emit("msg:custom", { type: "search_results", query: "missing values", error: null, hits: [{
      session_id: "sid", session_name: "analysis", message_id: "m7", position: 3, role: "assistant", created_at: 0,
      snippet: "fill **missing** <b>x</b>", highlights: [{ text: "fill ", match: false }, { text: "missing", match: true },
        { text: " <b>x</b>", match: false }] }] });
    const results = view.el.querySelector('[aria-label="Search results"]') as HTMLElement;
    expect(results.querySelector("mark")?.textContent).toBe("missing");
    expect(results.querySelector("b")).toBeNull(); // a message's text never becomes markup
    expect(view.el.querySelector("[role=status].ais-search-status")?.textContent).toBe("1 message found");
    results.querySelector("button")?.click();
    expect(model.takeSent()).toMatchObject([{ type: "open", session_id: "sid", message_id: "m7" }]);
    // a late answer to an older query is ignored
    model.emit("msg:custom", { type: "search_results", query: "old", error: null, hits: [] });
    expect(results.querySelectorAll("button")).toHaveLength(1);
  });
});
