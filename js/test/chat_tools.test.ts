// @vitest-environment jsdom
/** Issue 13 in the chat: branch switcher, edit in place, delete with undo, retry, details, day lines,
 * the Session settings popover, attachments, revealing a message. */
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { UNDO_MS } from "../src/chat_extras";
import { ChatView } from "../src/chat_view";
import { createMarkdown, type MarkdownRenderer } from "../src/markdown";
import type { ChatTraits, MessageData, SessionSettingsData } from "../src/protocol";
import { FakeModel } from "./fake_model";

let md: MarkdownRenderer;
beforeAll(() => {
  md = createMarkdown(window);
});
afterEach(() => {
  vi.useRealTimers();
});

const DAY = 86400;
const T0 = 1_700_000_000;

function message(id: string, role: "user" | "assistant", content: string, extra: Partial<MessageData> = {}): MessageData {
  return {
    id, seq: 0, role, content, model: role === "assistant" ? "fake:echo" : null, status: "complete", usage: null,
    cost: null, error: null, error_kind: null, created_at: T0, completed_at: null, ...extra,
  };
}

const SETTINGS: SessionSettingsData = {
  own: { model: "fake:echo", temperature: 0.5, max_tokens: null, system_prompt: null },
  defaults: { model: "local:smollm2", temperature: null, max_tokens: 1024, system_prompt: "Be brief." },
  accepts: { images: false, documents: false },
  limits: { max_total_bytes: 1000, max_image_bytes: 500, max_count: 3 },
};

function chat(messages: MessageData[], traits: Partial<ChatTraits> = {}): { model: FakeModel<ChatTraits>; view: ChatView } {
  const model = new FakeModel<ChatTraits>({
    session_id: "s1", session_name: "demo", model: "fake:echo", session_state: "open", notice: "",
    messages, switches: [], models: [{ provider: "fake", name: "echo", short_name: "echo", available: true, reason: null },
      { provider: "fake", name: "vision", short_name: "vision", available: true, reason: null }],
    progress: {}, batch: {}, session_settings: SETTINGS, reveal: {}, ...traits,
  });
  const view = new ChatView(model, md);
  document.body.appendChild(view.el);
  model.takeSent();
  return { model, view };
}

const byName = <T extends HTMLElement = HTMLButtonElement>(root: HTMLElement, name: string): T =>
  root.querySelector<T>(`[aria-label="${name}"]`) as T;

describe("branches", () => {
  it("shows ‹ 2/3 › on a message with siblings; its buttons check out the neighbours' branches", () => {
    const { model, view } = chat([
      message("u1", "user", "first", { branch: { index: 1, count: 3, previous: "u0", next: "u2" } }),
      message("a1", "assistant", "reply"),
    ]);
    const group = view.el.querySelector<HTMLElement>(".ais-branch:not([hidden])");
    expect(group?.textContent).toContain("2/3");
    expect(group?.getAttribute("aria-label")).toBe("Branches of message 1: 2 of 3");
    byName(group as HTMLElement, "Previous branch").click();
    byName(group as HTMLElement, "Next branch").click();
    expect(model.takeSent()).toMatchObject([{ type: "checkout", message_id: "u0" }, { type: "checkout", message_id: "u2" }]);
    expect(view.el.querySelectorAll(".ais-branch:not([hidden])")).toHaveLength(1); // the reply has no siblings
  });

  it("puts only the question in the editor, not the text of what was attached", () => {
    const { model, view } = chat([message("u1", "user", "rain?`df`: a DataFrame", {
      parts: [{ kind: "text", text: "rain?" }, { kind: "text", text: "`df`: a DataFrame" }] }), message("a1", "assistant", "…")]);
    byName(view.el, "Edit message 1").click();
    const editor = byName<HTMLTextAreaElement>(view.el, "New text of message 1");
    expect(editor.value).toBe("rain?");
    editor.value = "rain in mm?";
    editor.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.takeSent()).toMatchObject([{ type: "edit", message_id: "u1", text: "rain in mm?" }]);
  });

  it("edits a message in place: Enter asks again, Escape gives the text back", () => {
    const { model, view } = chat([message("u1", "user", "what is a p-value?"), message("a1", "assistant", "…")]);
    byName(view.el, "Edit message 1").click();
    const editor = byName<HTMLTextAreaElement>(view.el, "New text of message 1");
    expect(editor.tagName).toBe("TEXTAREA");
    expect(editor.value).toBe("what is a p-value?");
    expect(view.el.querySelector<HTMLElement>("[data-role=user] .ais-message-body")?.hidden).toBe(true);
    editor.value = "what is a p-value, briefly?";
    editor.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.takeSent()).toMatchObject([{ type: "edit", message_id: "u1", text: "what is a p-value, briefly?" }]);
    expect(view.el.querySelector(".ais-editor")).toBeNull();

    byName(view.el, "Edit message 1").click();
    byName<HTMLTextAreaElement>(view.el, "New text of message 1").dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(view.el.querySelector(".ais-editor")).toBeNull();
    expect(model.takeSent()).toEqual([]);
  });

  it("disables what would change the conversation while a reply streams", () => {
    const { view } = chat([message("u1", "user", "q", { branch: { index: 0, count: 2, previous: null, next: "u2" } }),
      message("a1", "assistant", "", { status: "streaming" })],
    { progress: { message_id: "a1", state: "streaming", started_at: T0, first_token_at: T0, tokens: 1, model: "fake:echo" } });
    expect(byName(view.el, "Edit message 1").disabled).toBe(true);
    expect(byName(view.el, "Delete message 1").disabled).toBe(true);
    expect(byName(view.el, "Next branch").disabled).toBe(true);
  });
});

describe("delete and retry", () => {
  it("hides a message with its reply, offers Undo for a few seconds, then tells the kernel", () => {
    vi.useFakeTimers();
    const { model, view } = chat([message("u1", "user", "one"), message("a1", "assistant", "re one"),
      message("u2", "user", "two"), message("a2", "assistant", "re two")]);
    byName(view.el, "Delete message 1").click();
    const shown = () => Array.from(view.el.querySelectorAll<HTMLElement>("[role=log] .ais-message")).map((e) => e.dataset.messageId);
    expect(shown()).toEqual(["u2", "a2"]);
    expect(view.el.querySelector(".ais-undo")?.textContent).toContain("Message and its reply deleted.");
    byName(view.el, "Undo delete").click();
    expect(shown()).toEqual(["u1", "a1", "u2", "a2"]);
    vi.advanceTimersByTime(UNDO_MS * 2);
    expect(model.takeSent()).toEqual([]);

    byName(view.el, "Delete reply 2").click();
    expect(shown()).toEqual(["u1", "a1", "u2"]);
    vi.advanceTimersByTime(UNDO_MS);
    expect(model.takeSent()).toMatchObject([{ type: "delete", message_id: "a2" }]);
    expect(shown()).toEqual(["u1", "a1", "u2"]); // still hidden until the kernel's messages drop it
    model.set("messages", [message("u1", "user", "one"), message("a1", "assistant", "re one"), message("u2", "user", "two")]);
    expect(shown()).toEqual(["u1", "a1", "u2"]);
  });

  it("tells the kernel at once when the view goes away, and shows a refused delete again", () => {
    const { model, view } = chat([message("u1", "user", "one"), message("a1", "assistant", "re one")]);
    byName(view.el, "Delete reply 1").click();
    const shown = () => Array.from(view.el.querySelectorAll<HTMLElement>("[role=log] .ais-message")).map((e) => e.dataset.messageId);
    byName(view.el, "Delete message 1").click(); // a second delete commits the first
    const [first] = model.takeSent() as { type: string; message_id: string; client_id: string }[];
    expect(first).toMatchObject({ type: "delete", message_id: "a1" });
    model.emit("msg:custom", { type: "ack", client_id: first.client_id, error: "session 'demo' is replying — stop it" });
    expect(shown()).toEqual([]); // u1 still waits for its Undo; a1 came back but goes with its prompt
    byName(view.el, "Undo delete").click();
    expect(shown()).toEqual(["u1", "a1"]);
    byName(view.el, "Delete message 1").click();
    view.dispose();
    expect(model.takeSent()).toMatchObject([{ type: "delete", message_id: "u1" }, { type: "view", open: false }]);
  });

  it("commits a delete waiting for its Undo before a send, so the model never sees the deleted turn", () => {
    const { model, view } = chat([message("u1", "user", "one"), message("a1", "assistant", "re one")]);
    byName(view.el, "Delete message 1").click();
    const box = view.el.querySelector<HTMLTextAreaElement>("textarea.ais-input")!;
    box.value = "two";
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect((model.takeSent() as { type: string }[]).map((m) => m.type)).toEqual(["delete", "send"]);
    expect(view.el.querySelector<HTMLElement>(".ais-undo")?.hidden).toBe(true); // no Undo of what was sent
  });

  it("puts Retry on a failed reply", () => {
    const { model, view } = chat([message("u1", "user", "q"),
      message("a1", "assistant", "", { status: "failed", error: "rate limited" })]);
    byName(view.el, "Retry reply 1").click();
    expect(model.takeSent()).toMatchObject([{ type: "retry", message_id: "a1" }]);
  });
});

describe("details and days", () => {
  it("shows a reply's time, first token, tokens and cost on hover, and all of it in Details", () => {
    const { view } = chat([message("u1", "user", "q"), message("a1", "assistant", "a", {
      usage: { input_tokens: 120, output_tokens: 340 }, cost: 0.0012, completed_at: T0 + 2,
      timing: { elapsed: 2.0, first_token_s: 0.4 } })]);
    const reply = view.el.querySelector<HTMLElement>("[data-role=assistant]") as HTMLElement;
    // hidden until pointed at, so built then (a long history would lay out a <details> per message)
    expect(reply.querySelector(".ais-meta")).toBeNull();
    reply.dispatchEvent(new Event("pointerenter"));
    const line = reply.querySelector(".ais-meta-line")?.textContent ?? "";
    expect(line).toContain("first token 0.4 s");
    expect(line).toContain("120 in / 340 out");
    expect(line).toContain("$0.0012");
    const items = Array.from(reply.querySelectorAll(".ais-details-list dt")).map((e) => e.textContent);
    expect(items).toEqual(["Time", "First token", "Duration", "Tokens", "Cost", "Model"]);
    expect(byName(reply, "Details of reply 1").tagName).toBe("SUMMARY");
  });

  it("puts a day line before the first message of each day, in a history of several days", () => {
    const { view, model } = chat([message("u1", "user", "old", { created_at: T0 }),
      message("a1", "assistant", "old reply", { created_at: T0 + 5 }),
      message("u2", "user", "new", { created_at: T0 + 3 * DAY })]);
    const items = Array.from(view.el.querySelectorAll<HTMLElement>(".ais-log-items > *")).map((e) =>
      e.classList.contains("ais-day") ? "day" : e.dataset.messageId);
    expect(items).toEqual(["day", "u1", "a1", "day", "u2"]);
    model.set("messages", [message("u1", "user", "today")]);
    expect(view.el.querySelectorAll(".ais-day")).toHaveLength(0);
  });

  it("scrolls to and marks a revealed message", () => {
    const scrolled: string[] = [];
    Element.prototype.scrollIntoView = function (this: Element) {
      scrolled.push((this as HTMLElement).dataset.messageId ?? "");
    };
    const { model, view } = chat([message("u1", "user", "a"), message("a1", "assistant", "b")]);
    model.set("reveal", { message_id: "u1", nonce: 1 });
    expect(scrolled).toEqual(["u1"]);
    expect(view.el.querySelector("[data-message-id=u1]")?.classList.contains("ais-revealed")).toBe(true);
    model.set("messages", [...model.get("messages")]);
    expect(scrolled).toEqual(["u1"]); // once per nonce
  });
});

describe("Session settings", () => {
  it("opens with the session's values and the inherited defaults, saves, and closes on Escape", () => {
    const { model, view } = chat([]);
    const open = byName(view.el, "Session settings");
    open.click();
    const dialog = view.el.querySelector<HTMLElement>("[role=dialog]") as HTMLElement;
    expect(dialog.hidden).toBe(false);
    expect(open.getAttribute("aria-expanded")).toBe("true");
    const field = (label: string) => {
      const l = Array.from(dialog.querySelectorAll("label")).find((e) => e.textContent === label) as HTMLLabelElement;
      return dialog.querySelector<HTMLInputElement>(`#${l.htmlFor}`) as HTMLInputElement;
    };
    const hint = (input: HTMLElement) => dialog.querySelector(`#${input.getAttribute("aria-describedby")}`)?.textContent;
    expect(document.activeElement).toBe(field("Model"));
    expect(field("Model").value).toBe("fake:echo");
    expect(field("Temperature").value).toBe("0.5");
    expect(field("Max tokens").value).toBe("");
    expect(hint(field("Max tokens"))).toBe("Default: 1024");
    expect(hint(field("System prompt"))).toBe("Default: Be brief.");
    expect(hint(field("Temperature"))).toBe("Default: the provider's");

    field("Temperature").value = "3";
    byName(dialog, "Save settings").click();
    expect(dialog.querySelector("[role=alert]")?.textContent).toContain("between 0 and 2");
    expect(model.takeSent()).toEqual([]);

    field("Temperature").value = "";
    field("Max tokens").value = "200";
    field("Model").value = "fake:vision";
    byName(dialog, "Save settings").click();
    const [sent] = model.takeSent() as { client_id: string }[];
    expect(sent).toMatchObject({ type: "configure", model: "fake:vision", temperature: null, max_tokens: 200, system_prompt: "" });
    model.emit("msg:custom", { type: "ack", client_id: sent.client_id, error: "max_tokens is too large — fix" });
    expect(dialog.hidden).toBe(false);
    expect(dialog.querySelector("[role=alert]")?.textContent).toContain("max_tokens is too large");
    byName(dialog, "Save settings").click();
    const [again] = model.takeSent() as { client_id: string }[];
    model.emit("msg:custom", { type: "ack", client_id: again.client_id, error: null });
    expect(dialog.hidden).toBe(true);

    open.click();
    dialog.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(dialog.hidden).toBe(true);
    expect(document.activeElement).toBe(open);
  });
});

describe("attachments", () => {
  const file = (name: string, type: string, size: number) => new File([new Uint8Array(size)], name, { type });

  it("adds files by paste as chips with name, size and a remove button, and sends their bytes", async () => {
    const { model, view } = chat([]);
    const box = byName<HTMLTextAreaElement>(view.el, "Message");
    const paste = new Event("paste", { bubbles: true, cancelable: true }) as ClipboardEvent;
    Object.defineProperty(paste, "clipboardData", { value: { files: [file("notes.csv", "text/csv", 20)], getData: () => "" } });
    box.dispatchEvent(paste);
    expect(paste.defaultPrevented).toBe(true);
    const chips = view.el.querySelector<HTMLElement>("[aria-label=Attachments]") as HTMLElement;
    expect(chips.textContent).toContain("notes.csv");
    expect(chips.textContent).toContain("20 bytes");
    expect(byName(chips, "Remove notes.csv")).not.toBeNull();
    box.value = "summarise";
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    await vi.waitFor(() => expect(model.sent).toHaveLength(1));
    expect(model.sent[0]).toMatchObject({ type: "send", text: "summarise", attachments: [{ name: "notes.csv", media_type: "text/csv", size: 20 }] });
    expect(model.buffers.get(0)?.[0].byteLength).toBe(20);
    expect(view.el.querySelector<HTMLElement>(".ais-attachments")?.hidden).toBe(true);
  });

  it("says before sending what the model cannot take, and sends nothing", () => {
    const { model, view } = chat([]);
    const input = view.el.querySelector<HTMLInputElement>("input[type=file]") as HTMLInputElement;
    Object.defineProperty(input, "files", { value: [file("plot.png", "image/png", 10)], configurable: true });
    input.dispatchEvent(new Event("change"));
    expect(view.el.querySelector("[role=alert].ais-attach-problem")?.textContent).toContain("echo cannot see images");
    const box = byName<HTMLTextAreaElement>(view.el, "Message");
    box.value = "look";
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.sent).toEqual([]);
    expect(box.value).toBe("look");
    byName(view.el, "Remove plot.png").click();
    expect(view.el.querySelector<HTMLElement>(".ais-attachments")?.hidden).toBe(true);
  });
});
