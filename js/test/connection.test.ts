// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { ChatView } from "../src/chat_view";
import { Connection, DISCONNECTED_CLASS, isDisconnected, type KernelLike } from "../src/connection";
import { chooseSource } from "../src/loader_plan";
import { createMarkdown } from "../src/markdown";
import { PanelView } from "../src/panel_view";
import type { ChatTraits, MessageData, PanelTraits, SessionRow } from "../src/protocol";

/** A model driven by the test as the kernel and ipywidgets would. */
class FakeModel<T extends object> {
  readonly sent: unknown[] = [];
  widget_manager: { kernel: KernelLike | null } | undefined;
  private readonly handlers = new Map<string, ((...args: never[]) => void)[]>();
  constructor(private readonly traits: T) {}
  get<K extends keyof T>(key: K): T[K] {
    return this.traits[key];
  }
  set<K extends keyof T>(key: K, value: T[K]): void {
    this.traits[key] = value;
    this.emit(`change:${String(key)}`);
  }
  save_changes(): void {}
  on(event: string, callback: (...args: never[]) => void): void {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), callback]);
  }
  off(event?: string | null, callback?: ((...args: never[]) => void) | null): void {
    if (event) this.handlers.set(event, (this.handlers.get(event) ?? []).filter((c) => c !== callback));
  }
  send(content: unknown): void {
    this.sent.push(content);
  }
  emit(event: string, ...args: unknown[]): void {
    for (const c of this.handlers.get(event) ?? []) (c as (...a: unknown[]) => void)(...args);
  }
}

const kernel = (id: string, status = "idle"): KernelLike => ({ id, status });

describe("isDisconnected", () => {
  it("is connected with a live comm and the kernel the view started with, busy or not", () => {
    expect(isDisconnected({ disconnectedClass: false, kernel: kernel("k1", "busy"), startKernelId: "k1" })).toBe(false);
    expect(isDisconnected({ disconnectedClass: false, kernel: undefined, startKernelId: null })).toBe(false);
  });

  it("is disconnected with no comm, a dead or replaced kernel, or no kernel any more", () => {
    expect(isDisconnected({ disconnectedClass: true, kernel: kernel("k1"), startKernelId: "k1" })).toBe(true);
    expect(isDisconnected({ disconnectedClass: false, commLost: true, kernel: kernel("k1"), startKernelId: "k1" })).toBe(true);
    expect(isDisconnected({ disconnectedClass: false, kernel: kernel("k1", "dead"), startKernelId: "k1" })).toBe(true);
    expect(isDisconnected({ disconnectedClass: false, kernel: kernel("k2"), startKernelId: "k1" })).toBe(true);
    expect(isDisconnected({ disconnectedClass: false, kernel: null, startKernelId: "k1" })).toBe(true);
  });
});

describe("Connection", () => {
  it("tells once when the model's comm goes (kernel restart) or ipywidgets marks the view", async () => {
    const el = document.createElement("div");
    const model = new FakeModel({});
    model.widget_manager = { kernel: kernel("k1") };
    const seen: boolean[] = [];
    const connection = new Connection(el, model, (c) => seen.push(c));
    expect(connection.connected).toBe(true);
    model.emit("comm_live_update");
    model.emit("comm_live_update");
    expect(seen).toEqual([false]);
    expect(connection.connected).toBe(false);

    const other = new Connection(document.createElement("div"), model, (c) => seen.push(c));
    const el2 = document.createElement("div");
    const marked = new Connection(el2, new FakeModel({}), (c) => seen.push(c));
    el2.classList.add(DISCONNECTED_CLASS);
    await Promise.resolve(); // MutationObserver callbacks run as microtasks
    expect(marked.connected).toBe(false);
    other.dispose();
    connection.dispose();
  });

  it("sees a view restored from saved state (marked before it renders) as disconnected", () => {
    const el = document.createElement("div");
    el.classList.add(DISCONNECTED_CLASS);
    expect(new Connection(el, new FakeModel({}), () => {}).connected).toBe(false);
  });
});

describe("chooseSource", () => {
  it("takes the server's build when it matches, or when no kernel could send one", () => {
    expect(chooseSource({ server: { buildId: "a" }, expected: "a", live: true })).toBe("server");
    expect(chooseSource({ server: { buildId: "b" }, expected: "a", live: false })).toBe("server");
    expect(chooseSource({ server: { buildId: "b" }, expected: "a", live: true })).toBe("kernel");
    expect(chooseSource({ server: null, expected: "a", live: true })).toBe("kernel");
    expect(chooseSource({ server: null, expected: "a", live: false })).toBe("plain");
  });
});

function message(id: string, role: "user" | "assistant", content: string, status: MessageData["status"] = "complete"): MessageData {
  return {
    id, seq: 0, role, content, model: role === "assistant" ? "fake:echo" : null, status, usage: null, cost: null,
    error: null, error_kind: null, created_at: 0, completed_at: null,
  };
}

describe("a chat that loses its kernel side", () => {
  const md = createMarkdown(window);
  const traits = (): ChatTraits => ({
    session_id: "s1", session_name: "demo", model: "fake:echo", session_state: "open", notice: "",
    messages: [message("u1", "user", "hi"), message("a1", "assistant", "", "streaming")],
    switches: [], models: [], progress: { message_id: "a1", state: "streaming", started_at: 1, first_token_at: 2, tokens: 3, model: "fake:echo" }, batch: {},
  });

  it("says so, renders read-only, and gives back the text the kernel never took", () => {
    const model = new FakeModel(traits());
    const state = { connected: true };
    const view = new ChatView(model, md, state);
    const box = view.el.querySelector<HTMLTextAreaElement>('textarea[aria-label="Message"]') as HTMLTextAreaElement;
    const stop = view.el.querySelector<HTMLButtonElement>('[aria-label="Stop"]') as HTMLButtonElement;
    expect(stop.hidden).toBe(false);
    model.set("progress", {});
    box.value = "sent but never taken";
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(box.value).toBe("");
    expect(view.el.querySelector('[data-status="pending"]')).not.toBeNull();

    state.connected = false;
    view.disconnected();
    expect(view.el.dataset.connection).toBe("lost");
    expect(view.el.textContent).toContain("Disconnected — run the cell again to reconnect.");
    expect(view.el.querySelector('[data-status="pending"]')).toBeNull();
    expect(box.value).toBe("sent but never taken");
    expect(box.disabled).toBe(true);
    for (const b of view.el.querySelectorAll<HTMLButtonElement>(".ais-composer button, .ais-header button")) {
      expect(b.disabled || b.hidden).toBe(true);
    }
    // Enter does nothing: the text stays
    const sent = model.sent.length;
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(box.value).toBe("sent but never taken");
    expect(model.sent.length).toBe(sent);
    view.dispose();
  });

  it("shows a reply saved mid-way as interrupted, with no progress clock and no Stop", () => {
    const view = new ChatView(new FakeModel(traits()), md, { connected: false });
    expect(view.el.querySelector('[data-role="assistant"]')?.getAttribute("data-status")).toBe("interrupted");
    expect(view.el.querySelector<HTMLElement>('[role="progressbar"]')?.hidden).toBe(true);
    expect(view.el.querySelector<HTMLButtonElement>('[aria-label="Stop"]')?.hidden).toBe(true);
    view.dispose();
  });
});

describe("a hub panel that loses its kernel side", () => {
  const row = (name: string, status: SessionRow["status"]): SessionRow => ({
    id: name, name, model: "fake:echo", status, message_count: 2, last_activity: 0, input_tokens: 1,
    output_tokens: 2, cost: null, live: true,
  });

  it("marks itself stale and disables its buttons", () => {
    const model = new FakeModel<PanelTraits>({ sessions: [row("a", "streaming"), row("b", "idle")] });
    const state = { connected: true };
    const view = new PanelView(model, state);
    expect(view.el.querySelector('[aria-label="Stop a"]')).not.toBeNull();
    state.connected = false;
    view.disconnected();
    expect(view.el.dataset.connection).toBe("lost");
    expect(view.el.textContent).toContain("Disconnected — run the cell again to reconnect.");
    expect(view.el.querySelector(".ais-panel-summary")?.textContent).toContain("stale");
    expect(view.el.querySelector('[aria-label="Stop a"]')).toBeNull();
    expect([...view.el.querySelectorAll("button")].every((b) => b.disabled)).toBe(true);
    expect(view.el.querySelector('tr[data-session="a"] .ais-status')?.textContent).toBe("streaming (stale)");
    view.dispose();
  });
});

describe("tabs", () => {
  it("can open where JupyterLab's dock area is, not elsewhere (Notebook 7, VS Code)", async () => {
    const { canOpenTabs, whenPlaced } = await import("../src/tab_watch");
    expect(canOpenTabs()).toBe(false);
    const dock = document.createElement("div");
    dock.id = "jp-main-dock-panel";
    const tab = document.createElement("div");
    tab.className = "jupyterlab-sidecar";
    dock.appendChild(tab);
    document.body.appendChild(dock);
    expect(canOpenTabs()).toBe(true);
    const el = document.createElement("div");
    tab.appendChild(el);
    const places: (Element | null)[] = [];
    whenPlaced(el, (t) => places.push(t));
    expect(places).toEqual([tab]);
    dock.remove();
  });
});
