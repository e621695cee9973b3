// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import loader from "../src/chat_loader";
import { DISCONNECTED_CLASS } from "../src/connection";
import type { ChatTraits, MessageData } from "../src/protocol";

const message = (role: "user" | "assistant", content: string): MessageData => ({
  id: content, seq: 0, role, content, model: role === "assistant" ? "fake:echo" : null, status: "complete",
  usage: null, cost: null, error: null, error_kind: null, created_at: 0, completed_at: null,
});

describe("the chat's loader with neither a Jupyter server nor a kernel (e.g. an HTML export)", () => {
  it("shows the saved conversation as plain text, markup kept as text", async () => {
    const traits = { session_name: "shared", messages: [message("user", "<b>hi</b>"), message("assistant", "Echo: **hi**")] };
    const model = {
      get: <K extends keyof ChatTraits>(key: K) => (traits as unknown as ChatTraits)[key],
      set: () => {}, save_changes: () => {}, on: () => {}, off: () => {},
      send: () => {
        throw new Error("no kernel to send to");
      },
    };
    const el = document.createElement("div");
    el.classList.add(DISCONNECTED_CLASS);
    const cleanup = await loader.render({ model, el });
    const box = el.querySelector("section");
    expect(box?.getAttribute("aria-label")).toBe("AI chat: shared (read-only)");
    expect(box?.textContent).toBe("You: <b>hi</b>fake:echo: Echo: **hi**");
    expect(el.querySelector("b")).toBeNull();
    cleanup();
    expect(el.children.length).toBe(0);
  });
});
