/**
 * Tools and context in the chat, as logic (issue 12): a reply's parts in order with its streamed text,
 * a user message's attachments, `@` mentions, the arguments of a call, finding the chat's notebook cell,
 * agents and tool capability in the selector, the progress bar's tool activity.
 */
import { describe, expect, it } from "vitest";
import { activityText, progressText } from "../src/format";
import { applyMention, filterRows, mentionAt, mentionedNames } from "../src/mention";
import { AGENT_PREFIX, agentOptions, groupModels, NO_TOOLS } from "../src/models";
import { chatCellIndex, claim, insertBelowChat, NO_NOTEBOOK, type SharedCellLike } from "../src/notebook_cells";
import { argumentBlocks, argumentsLine, callState, fenced, replySegments, userParts } from "../src/parts";
import type { MessagePart, ToolResultPartData } from "../src/protocol";

const text = (t: string): MessagePart => ({ kind: "text", text: t });
const call = (id: string, name = "count_rows", args: Record<string, unknown> = { table: "orders" }): MessagePart =>
  ({ kind: "tool_call", id, name, arguments: args });
const result = (callId: string, out: string, isError = false): ToolResultPartData =>
  ({ kind: "tool_result", call_id: callId, name: "count_rows", is_error: isError, parts: [{ kind: "text", text: out }] });

describe("a reply's segments", () => {
  it("put each result with its call, in order with the text", () => {
    const parts = [text("Let me count. "), call("c1"), result("c1", "3"), text("There are 3.")];
    const segments = replySegments(parts, "Let me count. There are 3.");
    expect(segments.map((s) => s.kind)).toEqual(["text", "tool", "text"]);
    expect(segments[0]).toEqual({ kind: "text", text: "Let me count. " });
    expect(segments[1]).toMatchObject({ kind: "tool", call: { id: "c1" }, result: { call_id: "c1" } });
    expect(segments[2]).toEqual({ kind: "text", text: "There are 3." });
  });

  it("show the text streamed past the stored parts after the last call", () => {
    const parts = [text("Let me count. "), call("c1"), result("c1", "3")];
    expect(replySegments(parts, "Let me count. There are").map((s) => (s.kind === "text" ? s.text : s.kind)))
      .toEqual(["Let me count. ", "tool", "There are"]);
    // a checkpoint mid-round: the last text part grows with the stream
    const mid = [text("Let me count. "), call("c1"), result("c1", "3"), text("There")];
    expect(replySegments(mid, "Let me count. There are 3.").map((s) => (s.kind === "text" ? s.text : s.kind)))
      .toEqual(["Let me count. ", "tool", "There are 3."]);
  });

  it("count text in UTF-16 units, as the stream does", () => {
    const parts = [text("😀 a"), call("c1"), result("c1", "ok")];
    expect(replySegments(parts, "😀 ab").map((s) => (s.kind === "text" ? s.text : s.kind))).toEqual(["😀 a", "tool", "b"]);
  });

  it("say how a call went", () => {
    expect(callState(null)).toBe("running");
    expect(callState(result("c", "3"))).toBe("done");
    expect(callState(result("c", "ValueError: no", true))).toBe("error");
    expect(callState(result("c", "not run: the user denied it", true))).toBe("refused");
  });
});

describe("a user message", () => {
  it("is the text typed, then a chip per attached object with exactly what was sent", () => {
    const parts: MessagePart[] = [text("How many rows has @df?"), text("`df`: pandas DataFrame, 3 rows"),
      text("`fig` (matplotlib.figure.Figure), as an image:"), { kind: "image", media_type: "image/png", blob: "sha256:1", size: 10 }];
    const { text: own, attachments } = userParts(parts, "How many rows has @df?`df`: ...");
    expect(own).toBe("How many rows has @df?");
    expect(attachments.map((a) => [a.label, a.parts.length])).toEqual([["df", 1], ["fig", 2]]);
  });

  it("with one part is its content", () => {
    expect(userParts([text("hi")], "hi")).toEqual({ text: "hi", attachments: [] });
    expect(userParts(undefined, "hi")).toEqual({ text: "hi", attachments: [] });
  });
});

describe("@ mentions", () => {
  it("are found at the caret, not inside words or e-mail addresses", () => {
    expect(mentionAt("rows of @d", 10)).toEqual({ start: 8, end: 10, query: "d" });
    expect(mentionAt("@", 1)).toEqual({ start: 0, end: 1, query: "" });
    expect(mentionAt("me@example", 10)).toBeNull();
    expect(mentionAt("a @df b", 7)).toBeNull();
    expect(mentionAt("@1x", 3)).toBeNull();
  });

  it("list names that start with the query first", () => {
    const rows = [{ name: "sales_df", type: "DataFrame", shape: "" }, { name: "df", type: "DataFrame", shape: "200 x 3" },
      { name: "n", type: "int", shape: "" }];
    expect(filterRows(rows, "df").map((r) => r.name)).toEqual(["df", "sales_df"]);
    expect(filterRows(rows, "").map((r) => r.name)).toEqual(["sales_df", "df", "n"]);
  });

  it("complete to @name and a space, and are read back from the text once each", () => {
    const m = mentionAt("what about @d", 13);
    expect(m).not.toBeNull();
    expect(applyMention("what about @d", m!, "df")).toEqual({ text: "what about @df ", caret: 15 });
    expect(mentionedNames("@df and @fig, not me@mail.com or @df again")).toEqual(["df", "fig"]);
  });
});

describe("a call's arguments", () => {
  it("show code in its language and the rest as JSON", () => {
    expect(argumentBlocks({ code: "print(1)" })).toEqual([{ name: "code", lang: "python", text: "print(1)" }]);
    expect(argumentBlocks({ source: "# Title", cell_type: "markdown" })[0].lang).toBe("markdown");
    expect(argumentBlocks({ query: "SELECT 1" })[0].lang).toBe("sql");
    expect(argumentBlocks({ limit: 5 })).toEqual([{ name: "limit", lang: null, text: "5" }]);
    expect(argumentsLine({ table: "orders", limit: 5 })).toBe('table="orders", limit=5');
  });

  it("are fenced so that no backticks in the code can close the block", () => {
    expect(fenced("a ```` b", "python")).toBe("`````python\na ```` b\n`````");
  });
});

describe("the chat's notebook cell", () => {
  const cell = (id: string, modelId?: string): SharedCellLike => ({
    id, cell_type: "code",
    getOutputs: () => modelId ? [{ output_type: "display_data", data: { "application/vnd.jupyter.widget-view+json": { model_id: modelId } } }] : [],
  });

  it("is the cell whose outputs show the widget", () => {
    expect(chatCellIndex([cell("a"), cell("b", "w1"), cell("c", "w2")], "w2")).toBe(2);
    expect(chatCellIndex([cell("a")], "w1")).toBe(-1);
    expect(chatCellIndex([cell("a", "w1")], "")).toBe(-1);
  });

  it("gets new cells below it, in the order they were asked for; at the end where no cell shows the chat", () => {
    const cells: SharedCellLike[] = [cell("a"), cell("chat", "w1"), cell("z")];
    let n = 0;
    const notebook = {
      cells,
      insertCell(index: number, c: { cell_type: string; source: string }) {
        const made = { id: `new${++n}`, cell_type: c.cell_type, source: c.source };
        cells.splice(index, 0, made);
        return made;
      },
    };
    const manager = { context: { model: { sharedModel: notebook } } };
    expect(insertBelowChat(manager, "w1", "x = 1", "code")).toEqual({ ok: true, where: "below the chat (cell 3)" });
    expect(insertBelowChat(manager, "w1", "# Notes", "markdown")).toEqual({ ok: true, where: "below the chat (cell 4)" });
    expect(cells.map((c) => c.id)).toEqual(["a", "chat", "new1", "new2", "z"]);
    expect(insertBelowChat(manager, "other", "y", "code")).toMatchObject({ ok: true, where: expect.stringContaining("end") });
    expect(cells[cells.length - 1].id).toBe("new3");
  });

  it("cannot be reached without a notebook (VS Code), and the chat says so", () => {
    expect(insertBelowChat({ kernel: {} }, "w1", "x", "code")).toEqual({ ok: false, error: NO_NOTEBOOK });
    expect(insertBelowChat(undefined, "w1", "x", "code")).toEqual({ ok: false, error: NO_NOTEBOOK });
  });

  it("is changed once per page and request, however many views ask", () => {
    expect(claim("r1")).toBe(true);
    expect(claim("r1")).toBe(false);
  });
});

describe("the selector", () => {
  it("offers agents and says which models can't call tools", () => {
    const options = agentOptions([{ name: "analyst", model: "openai:gpt-4o", description: "looks at data", tools: ["notebook"] }]);
    expect(options).toEqual([{ value: `${AGENT_PREFIX}analyst`, label: "analyst", title: "looks at data · model openai:gpt-4o · tools: notebook" }]);
    const groups = groupModels([{ provider: "local", name: "smollm2", short_name: "smollm2", available: true, reason: null, tools: false },
      { provider: "openai", name: "gpt-4o", short_name: "gpt-4o", available: true, reason: null, tools: true }], "local:smollm2");
    expect(groups[0].options[0].label).toBe(`smollm2 · ${NO_TOOLS}`);
    expect(groups[1].options[0].label).toBe("gpt-4o");
  });
});

describe("the progress bar", () => {
  it("says which tool runs, or that the reply waits for your approval", () => {
    expect(activityText({ kind: "tool", names: ["count_rows"] })).toBe("calling count_rows…");
    expect(activityText({ kind: "approval", names: ["run_python"] })).toBe("waiting for your approval");
    expect(progressText({ state: "streaming", elapsed: 3.2, tokens: 10, streamingFor: 1, activity: { kind: "tool", names: ["a", "b"] } }))
      .toBe("calling a, b… · 3.2 s");
  });
});
