/**
 * One message of the chat: role, model badge, status, body and its copy button.
 * Assistant text is markdown, rendered block by block: a block is rendered once it is final, and only
 * the tail is re-rendered while a reply streams.
 *
 * Names (for screen readers and keyboard users, see docs/user-guide.md): the log numbers your messages
 * "message 1, 2, …" and the assistant's "reply 1, 2, …"; a message's buttons carry its name ("Copy reply
 * 3", "Copy python block 1 of reply 3", "Wrap python block 1 of reply 3").
 */

import { button, copyText, flash, h, withCode } from "./dom";
import { shortModelName } from "./format";
import type { MarkdownRenderer } from "./markdown";
import { hasToolParts, replySegments, userParts } from "./parts";
import { AttachmentsView, type PartsContext, PartsView } from "./parts_view";
import type { MessageData, MessagePart, ModelOption } from "./protocol";
import { setInnerTabbable } from "./roving";
import { type Block, renderBlocks } from "./text_blocks";

const STATUS_LABEL: Record<string, string> = {
  stopped: "stopped",
  failed: "failed",
  interrupted: "interrupted",
  streaming: "streaming",
  pending: "waiting for the kernel",
};

export class MessageView {
  readonly el: HTMLElement;
  private readonly badge: HTMLElement;
  private readonly statusEl: HTMLElement;
  private readonly body: HTMLElement;
  private readonly errorEl: HTMLElement;
  private readonly copy: HTMLButtonElement;
  /** Places for the controls message_tools.ts adds: in the head (branch switcher, Edit, Delete), and under the body (Retry, attachments, details). */
  readonly headSlot: HTMLElement;
  readonly toolSlot: HTMLElement;
  readonly footSlot: HTMLElement;
  /** "reply 3", "message 2": what this message is called in names and announcements. */
  private name = "";
  private badgeText = "";
  private blocks: Block[] = [];
  private text = "";
  /** What the head shows (status, badge, model, error), so an unchanged head is not rewritten. */
  private head: string | null = null;
  private streaming = false;
  private plainText: string | null = null;
  /** Markdown not rendered yet: the message is off screen and shows as plain text until it scrolls in. */
  private deferred: string | null = null;
  /** A reply with tool calls is shown part by part (parts_view.ts); a user message's attachments as chips. */
  private partsView: PartsView | null = null;
  private attachments: AttachmentsView | null = null;

  constructor(
    private readonly md: MarkdownRenderer,
    private readonly role: "user" | "assistant",
    id?: string,
    /** Image bytes for thumbnails, calls waiting for approval (parts_view.ts). */
    private readonly context: PartsContext = { blobs: null, waiting: new Set() },
  ) {
    this.badge = h("span", { class: "ais-badge" });
    this.statusEl = h("span", { class: "ais-status" });
    const who = h("span", { class: "ais-who", text: role === "user" ? "You" : "Assistant" });
    const copy = button("Copy", "Copy message", () => {
      void copyText(this.text).then((ok) => flash(copy, ok ? "Copied" : "Copy failed"));
    }, "ais-copy-message ais-quiet");
    this.copy = copy;
    this.headSlot = h("span", { class: "ais-head-slot" });
    this.toolSlot = h("span", { class: "ais-tool-slot" });
    this.footSlot = h("div", { class: "ais-foot-slot" });
    const head = h("div", { class: "ais-message-head" }, who, this.badge, this.statusEl, this.headSlot, h("span", { class: "ais-spacer" }), this.toolSlot, copy);
    this.body = h("div", { class: "ais-message-body" });
    this.errorEl = h("div", { class: "ais-error", attrs: { role: "note" } });
    this.errorEl.hidden = true;
    this.el = h("article", { class: `ais-message ais-${role}`, attrs: { "data-role": role, tabindex: "-1" } }, head, this.body, this.errorEl, this.footSlot);
    if (id) this.el.dataset.messageId = id;
  }

  /** Number this message: the `n`th of its role in the log. Names its buttons after it. */
  setNumber(n: number, pending = false): void {
    const name = `${this.role === "user" ? "message" : "reply"} ${n}`;
    const label = `${name[0].toUpperCase()}${name.slice(1)}${this.role === "user" ? (pending ? " (yours, sending)" : " (yours)") : this.badgeText ? ` from ${this.badgeText}` : ""}`;
    if (this.el.getAttribute("aria-label") !== label) this.el.setAttribute("aria-label", label);
    if (name === this.name) return;
    this.name = name;
    this.copy.setAttribute("aria-label", `Copy ${name}`);
    this.nameCodeBlocks();
  }

  /** What this message is called ("reply 3"), once numbered. */
  get label(): string {
    return this.name;
  }

  /** Show `editor` in place of the body (editing the message), or the body again (null). */
  setEditor(editor: HTMLElement | null): void {
    this.el.querySelector(":scope > .ais-editor")?.remove();
    this.body.hidden = editor !== null;
    if (editor) this.body.after(editor);
  }

  /** The text shown, without markup, for an announcement. */
  spokenText(): string {
    const clone = this.body.cloneNode(true) as HTMLElement;
    for (const hidden of Array.from(clone.querySelectorAll("[aria-hidden=true], .katex-mathml, .ais-code-bar, button, .ais-tool"))) hidden.remove();
    return (clone.textContent ?? "").replace(/\s+/g, " ").trim();
  }

  /**
   * Show `message` with `text` as its content (the streamed text while streaming). Only what changed
   * is written: an unchanged message keeps its DOM as it is.
   */
  update(
    message: Pick<MessageData, "role" | "status" | "model" | "error"> & { parts?: readonly MessagePart[] },
    text: string,
    models: readonly ModelOption[],
    lazy = false,
  ): void {
    const badge = message.role === "assistant" && message.model ? shortModelName(message.model, models) : "";
    const head = [message.status, badge, message.model ?? "", message.error ?? ""].join("\n");
    if (head !== this.head) {
      this.head = head;
      this.badgeText = badge;
      this.renderHead(message, badge);
    }
    if (message.role === "user") this.renderUser(message.parts, text);
    else if (hasToolParts(message.parts)) this.renderParts(message.parts ?? [], text);
    else if (lazy && message.status !== "streaming" && this.blocks.length === 0) this.defer(text);
    else this.renderMarkdown(text, message.status === "streaming");
  }

  /** Whether markdown waits for `renderDeferred` (the log calls it when the message nears the view). */
  get isDeferred(): boolean {
    return this.deferred !== null;
  }

  /** Render markdown that `update(..., lazy)` put off. */
  renderDeferred(): void {
    if (this.deferred !== null) this.renderMarkdown(this.deferred, false);
  }

  private renderHead(message: Pick<MessageData, "status" | "model" | "error">, badge: string): void {
    this.el.dataset.status = message.status;
    this.el.setAttribute("aria-busy", String(message.status === "streaming"));
    this.badge.hidden = !badge;
    this.badge.textContent = badge;
    this.badge.title = badge ? message.model ?? "" : "";
    const label = STATUS_LABEL[message.status] ?? "";
    this.statusEl.hidden = !label;
    this.statusEl.textContent = label;
    this.statusEl.className = `ais-status ais-status-${message.status}`;
    this.errorEl.hidden = !message.error;
    this.errorEl.replaceChildren(...(message.error ? withCode(`Error: ${message.error}`) : []));
  }

  private defer(text: string): void {
    if (this.deferred === text) return;
    this.deferred = this.text = text;
    this.body.replaceChildren(h("div", { class: "ais-deferred", text }));
  }

  private renderPlain(text: string): void {
    if (this.plainText === text) return;
    this.plainText = this.text = text;
    this.body.replaceChildren(h("div", { class: "ais-user-text", text }));
  }

  /** The text the user wrote, and a chip for each object attached to it. */
  private renderUser(parts: readonly MessagePart[] | undefined, text: string): void {
    const own = userParts(parts, text);
    this.renderPlain(own.text);
    if (own.attachments.length === 0 && !this.attachments) return;
    if (!this.attachments) {
      this.attachments = new AttachmentsView(this.context.blobs);
      this.body.after(this.attachments.el);
    }
    this.attachments.update(own.attachments, this.name || "message");
    setInnerTabbable(this.el, this.el.tabIndex === 0);
  }

  /** A reply that called tools: its text and its calls in order (the round in progress last). */
  private renderParts(parts: readonly MessagePart[], text: string): void {
    if (!this.partsView) {
      this.blocks = [];
      this.deferred = null;
      this.body.replaceChildren();
      this.body.classList.remove("ais-typing");
      this.partsView = new PartsView(this.body, this.md, this.context);
    }
    this.text = text;
    this.partsView.render(replySegments(parts, text));
    this.nameCodeBlocks();
    setInnerTabbable(this.el, this.el.tabIndex === 0);
  }

  private renderMarkdown(text: string, streaming: boolean): void {
    if (this.deferred === null && text === this.text && streaming === this.streaming) return;
    this.streaming = streaming;
    if (this.deferred !== null) {
      this.deferred = null;
      this.body.replaceChildren();
    }
    this.text = text;
    this.body.classList.toggle("ais-typing", streaming && text === "");
    renderBlocks(this.body, this.blocks, text, this.md);
    this.nameCodeBlocks();
    setInnerTabbable(this.el, this.el.tabIndex === 0);
  }

  /** "Copy python block 2 of reply 3": code block buttons named after their block and message. */
  private nameCodeBlocks(): void {
    if (!this.name) return;
    Array.from(this.body.querySelectorAll(".ais-code")).forEach((code, i) => {
      const lang = code.querySelector(".ais-code-lang")?.textContent || "code";
      const block = `${lang === "text" ? "code" : lang} block ${i + 1} of ${this.name}`;
      code.querySelector(".ais-copy-code")?.setAttribute("aria-label", `Copy ${block}`);
      code.querySelector(".ais-wrap-code")?.setAttribute("aria-label", `Wrap ${block}`);
      code.querySelector(".ais-insert-code")?.setAttribute("aria-label", `Insert ${block} below`);
    });
  }
}

/** Handle clicks on buttons inside rendered markdown: copy a code block, load a blocked image. */
export function onMarkdownClick(event: MouseEvent): void {
  const target = event.target as HTMLElement | null;
  const b = target?.closest<HTMLButtonElement>("button[data-ais-action]");
  if (!b) return;
  if (b.dataset.aisAction === "copy-code") {
    const code = b.closest(".ais-code")?.querySelector("code")?.textContent ?? "";
    void copyText(code).then((ok) => flash(b, ok ? "Copied" : "Copy failed"));
  } else if (b.dataset.aisAction === "wrap-code") {
    const wrapped = b.closest(".ais-code")?.classList.toggle("ais-wrapped") ?? false;
    b.setAttribute("aria-pressed", String(wrapped));
  } else if (b.dataset.aisAction === "load-image") {
    const img = b.parentElement?.querySelector<HTMLImageElement>("img[data-ais-src]");
    const src = img?.getAttribute("data-ais-src");
    if (img && src && /^https?:\/\//i.test(src)) {
      img.referrerPolicy = "no-referrer";
      img.src = src;
      img.removeAttribute("data-ais-src");
      b.remove();
    }
  }
}
