// @vitest-environment jsdom
/// <reference types="vite/client" />
/**
 * Replays sequences recorded from the real Python ChatWidget (tests/unit/test_widget_contract.py writes
 * them to test/fixtures/) through the real ChatView: trait updates and custom messages as the kernel sent
 * them, user actions through the view's controls. After every step the view must show exactly the text
 * the kernel had, send exactly the messages the kernel got, and place each model switch before its message.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ChatView } from "../src/chat_view";
import { flushFrame } from "../src/frame";
import { createMarkdown, type MarkdownRenderer } from "../src/markdown";
import type { ChatTraits, KernelMsg, ViewMsg } from "../src/protocol";
import { FakeModel } from "./fake_model";

interface Fixture {
  description: string;
  initial: ChatTraits;
  steps: Step[];
}

type Step =
  | { kernel: "update"; state: Partial<ChatTraits> }
  | { kernel: "custom"; content: KernelMsg; lost?: boolean }
  | { user: ViewMsg }
  | { view: ViewMsg }
  | { expect: { message_id: string; text: string } };

const fixtures = import.meta.glob<Fixture>("./fixtures/chat/*.json", { eager: true, import: "default" });

let md: MarkdownRenderer;
beforeAll(() => {
  md = createMarkdown(window);
});

/** Text without whitespace: markdown turns line ends and blank lines into elements. */
const bare = (text: string): string => text.replace(/\s+/g, "");

/** The text a message shows (its tool calls and attachments are parts beyond the text). */
function shown(view: ChatView, messageId: string): string {
  const article = view.el.querySelector(`[data-message-id="${messageId}"]`);
  expect(article, `message ${messageId} is not shown`).not.toBeNull();
  const body = article?.querySelector(".ais-message-body")?.cloneNode(true) as HTMLElement | undefined;
  for (const part of Array.from(body?.querySelectorAll(".ais-tool") ?? [])) part.remove();
  return body?.textContent ?? "";
}

/** `msg` without the client id (a view makes its own). */
const sameAction = (sent: unknown, msg: ViewMsg): boolean => {
  const { client_id: _a, ...rest } = sent as Record<string, unknown>;
  const { client_id: _b, ...want } = msg as unknown as Record<string, unknown>;
  return JSON.stringify(rest) === JSON.stringify(want);
};

function perform(view: ChatView, msg: ViewMsg): void {
  if (msg.type === "stop") {
    view.el.querySelector<HTMLButtonElement>("button[aria-label=Stop]")?.click();
  } else if (msg.type === "switch_model") {
    const select = view.el.querySelector<HTMLSelectElement>("select[aria-label=Model]");
    if (!select) throw new Error("no model selector");
    select.value = msg.model;
    select.dispatchEvent(new Event("change"));
  } else if (msg.type === "approve") {
    const card = view.el.querySelector(`.ais-approval[data-call-id="${msg.call_id}"]`);
    if (!card) throw new Error(`no approval card for ${msg.call_id}`);
    if (msg.always) card.querySelector<HTMLInputElement>("input[type=checkbox]")?.click();
    const name = msg.approved ? "Approve" : "Deny";
    Array.from(card.querySelectorAll("button")).find((b) => b.textContent === name)?.click();
  } else {
    throw new Error(`the replay cannot perform ${msg.type}`);
  }
}

describe.each(Object.entries(fixtures))("replaying %s", (file, fixture) => {
  it(fixture.description, () => {
    const model = new FakeModel<ChatTraits>(structuredClone(fixture.initial));
    const view = new ChatView(model, md);
    document.body.appendChild(view.el);
    let unmatched = model.takeSent();
    if (!("view" in fixture.steps[0])) unmatched = []; // a view's first words: "view" and "hello"

    const consume = (msg: ViewMsg, what: string): void => {
      unmatched.push(...model.takeSent());
      const index = unmatched.findIndex((m) => sameAction(m, msg));
      expect(index, `${file}: the view should have sent ${what} ${JSON.stringify(msg)}; sent ${JSON.stringify(unmatched)}`).toBeGreaterThanOrEqual(0);
      unmatched.splice(index, 1);
    };

    for (const step of fixture.steps) {
      if ("kernel" in step && step.kernel === "update") {
        model.update(structuredClone(step.state));
      } else if ("kernel" in step) {
        if (!step.lost) model.emit("msg:custom", structuredClone(step.content));
      } else if ("user" in step) {
        perform(view, step.user);
        consume(step.user, "(user action)");
      } else if ("view" in step) {
        consume(step.view, "by itself");
      } else {
        flushFrame();
        expect(bare(shown(view, step.expect.message_id))).toBe(bare(step.expect.text));
      }
      flushFrame();
    }

    unmatched.push(...model.takeSent());
    expect(unmatched, `${file}: messages the kernel never got`).toEqual([]);
    const messages = model.get("messages");
    for (const m of messages) expect(bare(shown(view, m.id))).toBe(bare(m.content));
    for (const m of messages) {
      // every tool call of the stored parts shows, with how it went
      for (const p of m.parts ?? []) {
        if (p.kind !== "tool_call") continue;
        const card = view.el.querySelector(`[data-message-id="${m.id}"] .ais-tool[data-call-id="${p.id}"]`);
        expect(card, `${file}: the card of call ${p.id}`).not.toBeNull();
        const result = (m.parts ?? []).find((r) => r.kind === "tool_result" && r.call_id === p.id);
        expect(card?.getAttribute("data-state")).toBe(result ? (result.kind === "tool_result" && result.is_error ? "error" : "done") : "running");
      }
    }
    const log = view.el.querySelector("[role=log] .ais-log-items");
    for (const s of model.get("switches")) {
      const next = messages[s.message_index];
      const divider = next ? log?.querySelector(`[data-message-id="${next.id}"]`)?.previousElementSibling : log?.lastElementChild;
      expect(divider?.getAttribute("role"), `${file}: the divider of the switch to ${s.to}`).toBe("separator");
    }
    view.dispose();
    view.el.remove();
  });
});
