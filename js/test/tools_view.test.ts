// @vitest-environment jsdom
/**
 * Tools and context in the chat view (issue 12): approval cards (names, focus, answers), the `@` list
 * (a listbox the message box controls), tool calls in a reply, attachment chips, Insert below.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ChatView } from "../src/chat_view";
import { flushFrame } from "../src/frame";
import { createMarkdown, type MarkdownRenderer } from "../src/markdown";
import type { ApprovalData, ChatTraits, MessageData, MessagePart } from "../src/protocol";
import { FakeModel } from "./fake_model";

let md: MarkdownRenderer;
beforeAll(() => {
  md = createMarkdown(window);
});
afterEach(() => {
  document.body.replaceChildren();
});

function message(id: string, role: "user" | "assistant", content: string, parts: MessagePart[] = [], status: MessageData["status"] = "complete"): MessageData {
  return {
    id, seq: 0, role, content, parts, model: role === "assistant" ? "fake:tools" : null, status, usage: null, cost: null,
    error: null, error_kind: null, created_at: 0, completed_at: null,
  };
}

function chat(traits: Partial<ChatTraits> = {}, manager?: unknown): { model: FakeModel<ChatTraits>; view: ChatView } {
  const model = new FakeModel<ChatTraits>({
    session_id: "s1", session_name: "demo", model: "fake:tools", session_state: "open", notice: "",
    messages: [], switches: [], models: [], progress: {}, batch: {}, approvals: [], agents: [], widget_id: "w1", ...traits,
  });
  if (manager) Object.assign(model, { widget_manager: manager });
  const view = new ChatView(model, md);
  document.body.append(view.el, view.live);
  model.takeSent();
  return { model, view };
}

const RUN: ApprovalData = { call_id: "c1", message_id: "a1", name: "run_python", source: "notebook", arguments: { code: "df.price.sum()" } };

describe("an approval card", () => {
  it("names the tool, shows its code highlighted, and takes the focus from the message box", () => {
    const { model, view } = chat();
    const box = view.el.querySelector<HTMLTextAreaElement>("textarea[aria-label=Message]")!;
    box.focus();
    model.update({ approvals: [RUN] });
    const card = view.el.querySelector<HTMLElement>(".ais-approval")!;
    expect(card.getAttribute("role")).toBe("group");
    expect(document.getElementById(card.getAttribute("aria-labelledby")!)?.textContent).toBe("The model wants to call run_python (notebook)");
    expect(card.querySelector("code.language-python")?.textContent).toBe("df.price.sum()");
    expect(Array.from(card.querySelectorAll("button")).map((b) => b.getAttribute("aria-label") ?? b.textContent))
      .toEqual(expect.arrayContaining(["Approve", "Deny"]));
    expect(card.querySelector("label")?.textContent?.trim()).toBe("Always allow in this session");
    expect(document.activeElement).toBe(card);
    expect(view.live.textContent).toBe("run_python waits for your approval.");
  });

  it("sends the answer (always only with Approve), hides at once and gives the focus back", () => {
    const { model, view } = chat();
    model.update({ approvals: [RUN, { ...RUN, call_id: "c2" }] });
    const first = view.el.querySelector<HTMLElement>(".ais-approval[data-call-id=c1]")!;
    first.querySelector<HTMLInputElement>("input[type=checkbox]")!.click();
    Array.from(first.querySelectorAll("button")).find((b) => b.textContent === "Deny")!.click();
    expect(model.takeSent()).toEqual([{ type: "approve", call_id: "c1", approved: false, always: false }]);
    expect(view.el.querySelector(".ais-approval[data-call-id=c1]")).toBeNull();
    const second = view.el.querySelector<HTMLElement>(".ais-approval[data-call-id=c2]")!;
    expect(document.activeElement).toBe(second);
    second.querySelector<HTMLInputElement>("input[type=checkbox]")!.click();
    Array.from(second.querySelectorAll("button")).find((b) => b.textContent === "Approve")!.click();
    expect(model.takeSent()).toEqual([{ type: "approve", call_id: "c2", approved: true, always: true }]);
    expect(document.activeElement).toBe(view.el.querySelector("textarea.ais-input"));
    model.update({ approvals: [RUN] }); // the kernel has not confirmed yet: the answered card stays hidden
    expect(view.el.querySelector(".ais-approval[data-call-id=c1]")).toBeNull();
  });

  it("does not take the focus from elsewhere in the page", () => {
    const other = document.createElement("input");
    document.body.appendChild(other);
    const { model } = chat();
    other.focus();
    model.update({ approvals: [RUN] });
    expect(document.activeElement).toBe(other);
  });
});

describe("@ completion", () => {
  function typeIn(box: HTMLTextAreaElement, value: string): void {
    box.value = value;
    box.setSelectionRange(value.length, value.length);
    box.dispatchEvent(new Event("input"));
  }

  it("asks the kernel for variables and lists them in a listbox the box controls", () => {
    const { model, view } = chat();
    const box = view.el.querySelector<HTMLTextAreaElement>("textarea.ais-input")!;
    box.focus();
    typeIn(box, "rows of @");
    const [request] = model.takeSent() as { type: string; request_id: string }[];
    expect(request.type).toBe("variables");
    const list = view.el.querySelector<HTMLElement>("[role=listbox]")!;
    expect(box.getAttribute("aria-controls")).toBe(list.id);
    expect(list.hidden).toBe(false);
    expect(list.textContent).toContain("Asking the kernel");
    model.emit("msg:custom", { type: "variables", request_id: request.request_id, rows: [
      { name: "df", type: "DataFrame", shape: "200 x 3" }, { name: "fig", type: "Figure", shape: "" }] });
    const options = Array.from(list.querySelectorAll("[role=option]"));
    expect(options.map((o) => o.textContent)).toEqual(["dfDataFrame · 200 x 3", "figFigure"]);
    expect(box.getAttribute("aria-activedescendant")).toBe(options[0].id);
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true }));
    expect(box.getAttribute("aria-activedescendant")).toBe(options[1].id);
    expect(list.querySelector("[aria-selected=true]")?.textContent).toContain("fig");
    typeIn(box, "rows of @d");
    expect(Array.from(list.querySelectorAll("[role=option]")).map((o) => o.textContent)).toEqual(["dfDataFrame · 200 x 3"]);
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(box.value).toBe("rows of @df ");
    expect(list.hidden).toBe(true);
    expect(model.takeSent()).toEqual([]); // Enter picked: nothing was sent
    box.value = "rows of @df please";
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.takeSent()).toMatchObject([{ type: "send", text: "rows of @df please", context: ["df"] }]);
  });

  it("closes with Escape", () => {
    const { view } = chat();
    const box = view.el.querySelector<HTMLTextAreaElement>("textarea.ais-input")!;
    typeIn(box, "@");
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(view.el.querySelector<HTMLElement>("[role=listbox]")!.hidden).toBe(true);
  });
});

describe("a reply that called tools", () => {
  const parts: MessagePart[] = [
    { kind: "text", text: "Let me look. " },
    { kind: "tool_call", id: "c1", name: "run_python", arguments: { code: "len(df)" } },
    { kind: "tool_result", call_id: "c1", name: "run_python", is_error: false, parts: [{ kind: "text", text: "200" }] },
    { kind: "tool_call", id: "c2", name: "inspect", arguments: { name: "nope" } },
    { kind: "tool_result", call_id: "c2", name: "inspect", is_error: true, parts: [{ kind: "text", text: "KeyError: nope" }] },
    { kind: "text", text: "It has **200** rows." },
  ];

  it("shows each call with its arguments and result, in order with the text", () => {
    const { view } = chat({ messages: [message("u1", "user", "rows?"), message("a1", "assistant", "Let me look. It has **200** rows.", parts)] });
    flushFrame();
    const body = view.el.querySelector("[data-message-id=a1] .ais-message-body")!;
    expect(Array.from(body.children).map((c) => c.className)).toEqual(["ais-text", "ais-tool", "ais-tool", "ais-text"]);
    const [ok, failed] = Array.from(body.querySelectorAll<HTMLDetailsElement>("details.ais-tool"));
    expect(ok.querySelector("summary")?.textContent).toBe("⚙run_pythoncode=\"len(df)\"done");
    expect(ok.querySelector("code.language-python")?.textContent).toBe("len(df)");
    expect(ok.querySelector(".ais-tool-output")?.textContent).toBe("200");
    expect(failed.dataset.state).toBe("error");
    expect(failed.querySelector(".ais-tool-error")?.getAttribute("role")).toBe("note");
    expect(body.querySelector("strong")?.textContent).toBe("200");
  });

  it("streams the next round's text after the calls", () => {
    const { model, view } = chat({ messages: [message("u1", "user", "rows?"), message("a1", "assistant", "Let me look. ", parts.slice(0, 3), "streaming")],
      progress: { message_id: "a1", state: "streaming", started_at: 0, first_token_at: 0, tokens: 1, model: "fake:tools" } });
    model.emit("msg:custom", { type: "delta", message_id: "a1", seq: 1, offset: 0, text: "Let me look. It has", tokens: 2 });
    flushFrame();
    const body = view.el.querySelector("[data-message-id=a1] .ais-message-body")!;
    expect(Array.from(body.children).map((c) => c.textContent?.startsWith("⚙") ? "tool" : c.textContent?.trim())).toEqual(["Let me look.", "tool", "It has"]);
  });
});

describe("a call waiting for approval", () => {
  it("says so in the reply until it is answered", () => {
    const parts: MessagePart[] = [{ kind: "tool_call", id: "c1", name: "run_python", arguments: { code: "1" } }];
    const { model, view } = chat({ messages: [message("a1", "assistant", "", parts, "streaming")], approvals: [RUN] });
    const state = (): string | null | undefined => view.el.querySelector("[data-message-id=a1] .ais-tool-state")?.textContent;
    expect(state()).toBe("waiting for your approval");
    model.update({ approvals: [] });
    expect(state()).toBe("running…");
  });
});

describe("attachments of a user message", () => {
  it("show as chips that expand to exactly what was sent", () => {
    const sent = "`df`: pandas DataFrame, 200 rows, 3 columns\ncolumns (dtype, nulls): ...";
    const { view } = chat({ messages: [message("u1", "user", `rows of @df?${sent}`, [{ kind: "text", text: "rows of @df?" }, { kind: "text", text: sent }])] });
    const article = view.el.querySelector("[data-message-id=u1]")!;
    expect(article.querySelector(".ais-user-text")?.textContent).toBe("rows of @df?");
    const chip = article.querySelector<HTMLButtonElement>("button.ais-chip")!;
    expect(chip.getAttribute("aria-label")).toBe("Attached df");
    expect(chip.getAttribute("aria-expanded")).toBe("false");
    chip.click();
    expect(chip.getAttribute("aria-expanded")).toBe("true");
    const panel = document.getElementById(chip.getAttribute("aria-controls")!)!;
    expect(panel.hidden).toBe(false);
    expect(panel.textContent).toBe(sent);
  });

  it("let the placeholder of a sent message settle on the echo with attachments", () => {
    const { model, view } = chat();
    const box = view.el.querySelector<HTMLTextAreaElement>("textarea.ais-input")!;
    box.value = "rows of @df";
    box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    const [send] = model.takeSent() as { client_id: string }[];
    model.emit("msg:custom", { type: "ack", client_id: send.client_id, error: null });
    model.update({ messages: [message("u1", "user", "rows of @df`df`: ...", [{ kind: "text", text: "rows of @df" }, { kind: "text", text: "`df`: ..." }])] });
    expect(view.el.querySelectorAll("[data-role=user]").length).toBe(1);
  });
});

describe("Insert below", () => {
  it("adds a code block as a cell below the chat's cell", () => {
    const cells: { id: string; cell_type: string; source?: string; getOutputs?: () => unknown[] }[] = [
      { id: "chat", cell_type: "code", getOutputs: () => [{ data: { "application/vnd.jupyter.widget-view+json": { model_id: "w1" } } }] },
    ];
    const manager = { context: { model: { sharedModel: { cells, insertCell: (i: number, c: { cell_type: string; source: string }) => {
      const made = { id: "new", ...c };
      cells.splice(i, 0, made);
      return made;
    } } } } };
    const { view } = chat({ messages: [message("a1", "assistant", "```python\ndf.head()\n```")] }, manager);
    expect(view.el.dataset.insert).toBe("yes");
    const insert = view.el.querySelector<HTMLButtonElement>("button.ais-insert-code")!;
    expect(insert.textContent).toBe("Insert below");
    expect(insert.getAttribute("aria-label")).toBe("Insert python block 1 of reply 1 below");
    insert.click();
    expect(cells.map((c) => [c.id, c.source ?? ""])).toEqual([["chat", ""], ["new", "df.head()"]]);
    expect(view.live.textContent).toBe("Inserted a cell below the chat (cell 2).");
  });

  it("answers the kernel's insert_cell once per page", () => {
    const { model, view } = chat();
    expect(view.el.dataset.insert).toBe("no");
    model.emit("msg:custom", { type: "insert_cell", request_id: "r9", source: "x", cell_type: "code" });
    model.emit("msg:custom", { type: "insert_cell", request_id: "r9", source: "x", cell_type: "code" });
    expect(model.takeSent()).toEqual([{ type: "inserted", request_id: "r9", error: expect.stringContaining("no notebook") }]);
  });
});
