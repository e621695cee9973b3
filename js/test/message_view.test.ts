// @vitest-environment jsdom
import { beforeAll, describe, expect, it } from "vitest";
import { createMarkdown, type MarkdownRenderer } from "../src/markdown";
import { MessageView } from "../src/message_view";

let md: MarkdownRenderer;
beforeAll(() => {
  md = createMarkdown(window);
});

const reply = { role: "assistant" as const, status: "complete" as const, model: "local:smollm2", error: null };

describe("deferred markdown of old messages", () => {
  it("shows the raw text first and renders markdown on request", () => {
    const view = new MessageView(md, "assistant");
    view.update(reply, "**bold** text", [], true);
    expect(view.isDeferred).toBe(true);
    expect(view.el.querySelector(".ais-deferred")?.textContent).toBe("**bold** text");
    expect(view.el.querySelector("strong")).toBeNull();
    view.renderDeferred();
    expect(view.isDeferred).toBe(false);
    expect(view.el.querySelector(".ais-deferred")).toBeNull();
    expect(view.el.querySelector("strong")?.textContent).toBe("bold");
  });

  it("never defers a streaming reply, and a later eager update replaces the placeholder", () => {
    const view = new MessageView(md, "assistant");
    view.update({ ...reply, status: "streaming" }, "partial *x*", [], true);
    expect(view.isDeferred).toBe(false);
    const old = new MessageView(md, "assistant");
    old.update(reply, "# Title", [], true);
    old.update(reply, "# Title", [], false);
    expect(old.isDeferred).toBe(false);
    expect(old.el.querySelectorAll("h1")).toHaveLength(1);
    expect(old.el.querySelector(".ais-deferred")).toBeNull();
  });
});
