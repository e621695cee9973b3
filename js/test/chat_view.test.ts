// @vitest-environment jsdom
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ChatView } from "../src/chat_view";
import { flushFrame } from "../src/frame";
import { createMarkdown, type MarkdownRenderer } from "../src/markdown";
import type { ChatTraits, DeltaMsg, MessageData } from "../src/protocol";
import { FakeModel } from "./fake_model";

let md: MarkdownRenderer;
beforeAll(() => {
  md = createMarkdown(window);
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

function message(id: string, role: "user" | "assistant", content: string, status: MessageData["status"] = "complete"): MessageData {
  return {
    id, seq: 0, role, content, model: role === "assistant" ? "openai:gpt-4o-mini" : null, status, usage: null,
    cost: null, error: null, error_kind: null, created_at: 0, completed_at: null,
  };
}

function chat(messages: MessageData[], traits: Partial<ChatTraits> = {}): { model: FakeModel<ChatTraits>; view: ChatView } {
  const model = new FakeModel<ChatTraits>({
    session_id: "s1", session_name: "demo", model: "openai:gpt-4o-mini", session_state: "open", notice: "",
    messages, switches: [], models: [], progress: {}, batch: {}, ...traits,
  });
  return { model, view: new ChatView(model, md) };
}

const delta = (offset: number, text: string, seq: number): DeltaMsg => ({
  type: "delta", message_id: "a2", seq, offset, text, tokens: seq + 1,
});

describe("chat view updates", () => {
  it("leaves unchanged messages' DOM alone when a reply ends, and renders the ended reply once", () => {
    const history = [message("u1", "user", "hi"), message("a1", "assistant", "**old** reply")];
    const { model, view } = chat([...history, message("u2", "user", "more"), message("a2", "assistant", "", "streaming")]);
    const old = view.el.querySelector<HTMLElement>("[data-role=assistant]");
    expect(old?.querySelector("strong")?.textContent).toBe("old");
    const watch = new MutationObserver(() => {});
    watch.observe(old as Node, { subtree: true, childList: true, attributes: true, characterData: true });
    const render = vi.spyOn(md, "render");

    // the trait arrives as new objects (as from the kernel), the old messages unchanged
    const copy = (m: MessageData): MessageData => ({ ...m });
    model.set("messages", [...history.map(copy), message("u2", "user", "more"), message("a2", "assistant", "Done.")]);

    expect(watch.takeRecords()).toEqual([]);
    expect(view.el.querySelector("[data-role=assistant]")).toBe(old);
    const ended = view.el.querySelectorAll<HTMLElement>("[data-role=assistant]")[1];
    expect(ended.dataset.status).toBe("complete");
    expect(ended.textContent).toContain("Done.");
    expect(render.mock.calls.map((c) => c[0])).toEqual(["Done."]);
    view.dispose();
  });

  it("shows streamed text in the next frame, once for all deltas since the last one", () => {
    const { model, view } = chat([message("u2", "user", "q"), message("a2", "assistant", "", "streaming")]);
    const render = vi.spyOn(md, "render");
    model.emit("msg:custom", delta(0, "Hello", 0));
    model.emit("msg:custom", delta(5, " world", 1));
    expect(render).not.toHaveBeenCalled();
    flushFrame();
    const reply = view.el.querySelectorAll<HTMLElement>("[data-role=assistant]")[0];
    expect(reply.querySelector(".ais-message-body")?.textContent?.trim()).toBe("Hello world");
    expect(render.mock.calls.map((c) => c[0])).toEqual(["Hello world"]);
    view.dispose();
  });

  it("keeps old messages waiting for their markdown when the log updates (renders none of them at once)", () => {
    // IntersectionObserver (missing in jsdom) that never reports: nothing scrolls into view
    vi.stubGlobal("IntersectionObserver", class { observe() {} unobserve() {} disconnect() {} });
    const history = Array.from({ length: 60 }, (_, i) => message(`m${i}`, i % 2 ? "assistant" : "user", `**reply ${i}**`));
    const { model, view } = chat(history);
    const first = view.el.querySelectorAll<HTMLElement>("[data-role=assistant]")[0];
    expect(first.querySelector(".ais-deferred")?.textContent).toBe("**reply 1**");
    const render = vi.spyOn(md, "render");

    model.set("messages", [...history.map((m) => ({ ...m })), message("u9", "user", "next"), message("a9", "assistant", "", "streaming")]);

    expect(first.querySelector(".ais-deferred")?.textContent).toBe("**reply 1**");
    expect(first.querySelector("strong")).toBeNull();
    expect(render).not.toHaveBeenCalled();
    view.dispose();
  });
});
