// @vitest-environment jsdom
/**
 * The chat log as users meet it (issue 10): dividers placed by message index, what a fallback divider
 * says, empty states, the batch summary, one tab stop with arrow keys, distinct button names, replies
 * announced once ended, hints with code, the retry state of the progress bar.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ChatView } from "../src/chat_view";
import { flushFrame } from "../src/frame";
import { createMarkdown, type MarkdownRenderer } from "../src/markdown";
import type { ChatTraits, MessageData, SwitchData } from "../src/protocol";
import { FakeModel } from "./fake_model";

let md: MarkdownRenderer;
beforeAll(() => {
  md = createMarkdown(window);
});
afterEach(() => {
  vi.useRealTimers();
  document.body.replaceChildren();
});

function message(id: string, role: "user" | "assistant", content: string, over: Partial<MessageData> = {}): MessageData {
  return {
    id, seq: 0, role, content, model: role === "assistant" ? "local:smollm2" : null, status: "complete", usage: null,
    cost: null, error: null, error_kind: null, created_at: 0, completed_at: null, ...over,
  };
}

function exchanges(n: number): MessageData[] {
  return Array.from({ length: n }, (_, i) => [message(`u${i + 1}`, "user", `question ${i + 1}`),
    message(`a${i + 1}`, "assistant", `answer ${i + 1}`)]).flat();
}

function switchAt(index: number, to: string, over: Partial<SwitchData> = {}): SwitchData {
  return { from: "local:smollm2", to, message_index: index, reason: "chosen in the chat", created_at: index, answered_by: to, ...over };
}

function chat(traits: Partial<ChatTraits> = {}): { model: FakeModel<ChatTraits>; view: ChatView } {
  const model = new FakeModel<ChatTraits>({
    session_id: "s1", session_name: "demo", model: "local:smollm2", session_state: "open", notice: "",
    messages: [], switches: [], models: [], progress: {}, batch: {}, ...traits,
  });
  const view = new ChatView(model, md);
  document.body.append(view.el, view.live);
  return { model, view };
}

/** The log's children as a list of `message id`, `|divider text|`, `(hint)`. */
function layout(view: ChatView): string[] {
  return Array.from(view.el.querySelector("[role=log] .ais-log-items")?.children ?? []).map((el) => {
    const e = el as HTMLElement;
    if (e.dataset.messageId) return e.dataset.messageId;
    if (e.getAttribute("role") === "separator") return `|${e.textContent}|`;
    return `(${e.textContent})`;
  });
}

describe("model switch dividers", () => {
  it("sit before the message at their index, and go when the messages are cleared", () => {
    const { model, view } = chat({ messages: exchanges(2), switches: [switchAt(2, "openai:gpt-4o")] });
    expect(layout(view)).toEqual(["u1", "a1", "|switched to gpt-4o|", "u2", "a2"]);
    // Clear: the messages are gone; a switch left behind (index 2 > 0 messages) is not shown
    model.update({ messages: [] });
    expect(layout(view).filter((x) => x.startsWith("|"))).toEqual([]);
    // new replies, then a new switch: each divider where its index says, none below newer replies
    model.update({ messages: exchanges(2), switches: [switchAt(6, "openai:gpt-4o"), switchAt(2, "local:smollm2")] });
    expect(layout(view)).toEqual(["u1", "a1", "|switched to smollm2|", "u2", "a2"]);
  });

  it("say what was asked for and what answers after a fallback", () => {
    const fallback = switchAt(2, "gemini:gemini-2.5-flash", { answered_by: "local:smollm2", fallback_reason: "no API key for gemini: run `%ai_session keys set gemini`" });
    const { view } = chat({ messages: exchanges(1), switches: [fallback] });
    const divider = view.el.querySelector("[role=separator]");
    expect(divider?.textContent).toBe("switched to gemini-2.5-flash · smollm2 answers");
    expect(divider?.getAttribute("aria-label")).toContain("smollm2 answers: no API key for gemini: run %ai_session keys set gemini");
  });

  it("name a model as its badge does", () => {
    const msgs = [...exchanges(1), message("u2", "user", "q"), message("a2", "assistant", "a", { model: "anthropic:claude-haiku-4-5-20251001" })];
    const { view } = chat({ messages: msgs, switches: [switchAt(2, "anthropic:claude-haiku-4-5-20251001")] });
    const badge = view.el.querySelector("[data-message-id=a2] .ais-badge")?.textContent;
    expect(badge).toBe("haiku-4-5");
    expect(view.el.querySelector("[role=separator]")?.textContent).toBe(`switched to ${badge}`);
  });
});

describe("empty states", () => {
  it("a cleared chat shows a hint instead of a blank band", () => {
    const { model, view } = chat({ messages: exchanges(1) });
    expect(view.el.querySelector(".ais-empty")).toBeNull();
    model.update({ messages: [] });
    expect(view.el.querySelector(".ais-empty")?.textContent).toMatch(/^No messages yet/);
  });

  it("a finished batch leaves a one-line summary; a chat used only by a batch says why it is empty", () => {
    const { model, view } = chat();
    model.update({ batch: { completed: 3, failed: 0, total: 8, active: "row 4", done: false } });
    expect(view.el.querySelector(".ais-batch-summary")).toBeNull();
    model.update({ batch: { completed: 8, failed: 0, total: 8, active: null, done: true, elapsed_s: 12.4, message_index: 0 } });
    expect(layout(view)).toEqual([
      "(No messages here: batch items (s.map) are answered without entering the history. Write below to chat.)",
      "(Batch: 8/8 done, 0 failed, 12 s)",
    ]);
    expect(view.el.querySelector("[role=progressbar]")?.hasAttribute("hidden")).toBe(true);
  });
});

describe("keyboard: the log is one tab stop", () => {
  it("puts one message in the tab order, its buttons named after it, the others' out", () => {
    const { view } = chat({ messages: exchanges(6) });
    view.el.querySelector<HTMLElement>("[role=log] article[tabindex='0']")?.focus(); // its details are built as it is reached
    const tabbable = Array.from(view.el.querySelectorAll<HTMLElement>("[role=log] [tabindex='0']")).filter((e) => !e.closest("[hidden]"));
    expect(tabbable.map((e) => e.getAttribute("aria-label") ?? e.dataset.messageId)).toEqual(
      ["Reply 6 from smollm2", "Delete reply 6", "Copy reply 6", "Details of reply 6"]);
    const names = Array.from(view.el.querySelectorAll("[role=log] .ais-copy-message")).map((b) => b.getAttribute("aria-label"));
    expect(names).toEqual([1, 2, 3, 4, 5, 6].flatMap((n) => [`Copy message ${n}`, `Copy reply ${n}`]));
    expect(view.el.querySelector("[role=log]")?.hasAttribute("tabindex")).toBe(false);
  });

  it("moves between messages with the arrow keys, Home and End", () => {
    const { view } = chat({ messages: exchanges(3) });
    const articles = Array.from(view.el.querySelectorAll<HTMLElement>("[role=log] article"));
    const key = (k: string): void => {
      (document.activeElement as HTMLElement).dispatchEvent(new KeyboardEvent("keydown", { key: k, bubbles: true }));
    };
    articles[5].focus();
    key("ArrowUp");
    expect(document.activeElement).toBe(articles[4]);
    expect(articles[4].tabIndex).toBe(0);
    expect(articles[5].tabIndex).toBe(-1);
    expect(articles[5].querySelector("button")?.tabIndex).toBe(-1);
    expect(articles[4].querySelector("button")?.tabIndex).toBe(0);
    key("Home");
    expect(document.activeElement).toBe(articles[0]);
    key("ArrowUp");
    expect(document.activeElement).toBe(articles[0]);
    key("End");
    expect(document.activeElement).toBe(articles[5]);
  });

  it("names code block buttons after their block and message", () => {
    const { view } = chat({ messages: [message("u1", "user", "code?"), message("a1", "assistant", "```python\nx = 1\n```\n\n```\ny\n```")] });
    const names = Array.from(view.el.querySelectorAll("[data-message-id=a1] .ais-code button")).map((b) => b.getAttribute("aria-label"));
    expect(names).toEqual(["Wrap python block 1 of reply 1", "Copy python block 1 of reply 1", "Insert python block 1 of reply 1 below",
      "Wrap code block 2 of reply 1", "Copy code block 2 of reply 1", "Insert code block 2 of reply 1 below"]);
  });
});

describe("screen readers", () => {
  it("hear a reply once it has ended, not each token, and not the history", () => {
    const history = exchanges(1);
    const { model, view } = chat({ messages: [...history, message("u2", "user", "more"), message("a2", "assistant", "", { status: "streaming" })] });
    const status = view.live;
    expect(status.getAttribute("role")).toBe("status");
    expect(view.el.querySelector("[role=log]")?.getAttribute("aria-live")).toBe("off");
    expect(status?.textContent).toBe("");
    model.emit("msg:custom", { type: "delta", message_id: "a2", seq: 1, offset: 0, text: "Hello **world**", tokens: 2 });
    flushFrame();
    expect(status?.textContent).toBe("");
    model.update({ messages: [...history, message("u2", "user", "more"), message("a2", "assistant", "Hello **world**")] });
    expect(status?.textContent).toBe("Reply 2 from smollm2: Hello world");
    model.update({ messages: [...history, message("u2", "user", "more"), message("a2", "assistant", "Hello **world**", { status: "failed", error: "boom" })] });
    expect(status?.textContent).toBe("Reply 2 from smollm2: Hello world");
  });
});

describe("hints and retries", () => {
  it("shows backticked commands in hints as code", () => {
    const { view } = chat({ notice: "Replies come from local:smollm2: no API key for openai: run `%ai_session keys set openai`" });
    expect(view.el.querySelector(".ais-notice code")?.textContent).toBe("%ai_session keys set openai");
    expect(view.el.querySelector(".ais-notice")?.textContent).not.toContain("`");
  });

  it("says that a reply waits to retry, why, and when", () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date(1_700_000_000_000));
    const now = 1_700_000_000;
    const { view } = chat({
      messages: [message("u1", "user", "q"), message("a1", "assistant", "", { status: "streaming" })],
      progress: {
        message_id: "a1", state: "retrying", started_at: now - 2, first_token_at: null, tokens: 0, model: "openai:gpt-4o",
        retry: { attempt: 2, max_attempts: 4, wait_s: 8, until: now + 8, kind: "rate_limited", reason: "429 Too Many Requests: `Retry-After: 8`" },
      },
    });
    const bar = view.el.querySelector("[role=progressbar]");
    expect(bar?.getAttribute("aria-valuetext")).toBe("rate limited — retrying in 8 s (attempt 2 of 4)");
    expect(bar?.getAttribute("title")).toBe("429 Too Many Requests: Retry-After: 8");
    expect(view.el.querySelector<HTMLButtonElement>("button[aria-label=Stop]")?.hidden).toBe(false);
    vi.advanceTimersByTime(5000);
    flushFrame();
    expect(bar?.getAttribute("aria-valuetext")).toBe("rate limited — retrying in 3 s (attempt 2 of 4)");
    view.dispose();
  });
});
