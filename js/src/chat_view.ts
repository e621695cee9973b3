/**
 * The chat view: header (session name, model selector, progress bar, Regenerate, Clear), the message
 * log, and the composer (Message box, Send / Stop). State lives in the kernel; this view renders the
 * synced traits and merges streamed text from `delta` messages.
 *
 * Actions go to the kernel as custom messages. Jupyter delivers them only when the kernel's shell is
 * idle, so while a cell runs a sent message shows as "waiting for the kernel" until it is taken.
 */

import type { AnyModel } from "./anywidget";
import { Subscriptions } from "./anywidget";
import { button, h, uniqueId } from "./dom";
import { cancelFrame, requestFrame, type FrameWork } from "./frame";
import type { MarkdownRenderer } from "./markdown";
import { MessageView, onMarkdownClick } from "./message_view";
import { ModelSelect } from "./model_select";
import { ProgressView } from "./progress_view";
import type { ChatTraits, KernelMsg, MessageData, SwitchData, ViewMsg } from "./protocol";
import { displayText, mergeDelta, streamEnded, type StreamText } from "./stream";
import { trackVisibility } from "./visibility";

const STICK_PX = 48;
/** Messages at the end of the log rendered at once; older ones render as they scroll into view. */
const EAGER_MESSAGES = 40;

interface Pending {
  clientId: string;
  text: string;
  view: MessageView;
  /** Ids of the messages shown when it was sent: the echo is a new user message with this text. */
  before: Set<string>;
  accepted: boolean;
}

export class ChatView implements FrameWork {
  readonly el: HTMLElement;
  private readonly subs: Subscriptions<ChatTraits>;
  private readonly title: HTMLElement;
  private readonly select: ModelSelect;
  private readonly progress: ProgressView;
  private readonly regenerate: HTMLButtonElement;
  private readonly clear: HTMLButtonElement;
  private readonly confirmBar: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly log: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly send: HTMLButtonElement;
  private readonly stop: HTMLButtonElement;
  private readonly views = new Map<string, MessageView>();
  /** Renders deferred markdown as messages near the visible part of the log (null without IntersectionObserver). */
  private readonly lazyRender: IntersectionObserver | null;
  private readonly deferredViews = new WeakMap<Element, MessageView>();
  private readonly dividers = new Map<string, HTMLElement>();
  private readonly pending: Pending[] = [];
  private stream: StreamText | null = null;
  /** Whether the log follows new text (the user has not scrolled up). */
  private stick = true;
  /** Streamed text arrived since the last frame. */
  private streamDue = false;
  /** The log changed since the last frame: scroll it to the bottom if it sticks there. */
  private scrollDue = false;
  private actionError = "";
  private readonly untrack: () => void;
  private disposed = false;

  constructor(
    private readonly model: AnyModel<ChatTraits>,
    private readonly md: MarkdownRenderer,
  ) {
    this.subs = new Subscriptions(model);
    this.title = h("span", { class: "ais-title" });
    this.select = new ModelSelect(
      (m) => this.act({ type: "switch_model", model: m, client_id: uniqueId("switch") }),
      () => this.act({ type: "refresh_models" }),
    );
    this.progress = new ProgressView();
    this.regenerate = button("↻ Regenerate", "Regenerate", () => this.act({ type: "regenerate", client_id: uniqueId("regen") }), "ais-quiet");
    this.clear = button("Clear", "Clear", () => this.askClear(), "ais-quiet");
    const inspect = button("Inspect", "Inspect this session", () => this.act({ type: "inspect", client_id: uniqueId("inspect") }), "ais-quiet");
    const header = h("div", { class: "ais-header" }, this.title, this.select.el, this.progress.el,
      h("span", { class: "ais-spacer" }), this.regenerate, this.clear, inspect);

    this.confirmBar = h("div", { class: "ais-confirm", attrs: { role: "alertdialog", "aria-label": "Confirm clear" } });
    this.confirmBar.hidden = true;
    this.notice = h("div", { class: "ais-notice", attrs: { role: "status", "aria-live": "polite" } });

    this.log = h("div", { class: "ais-log", attrs: { role: "log", "aria-label": "Messages", tabindex: "0" } });
    this.log.addEventListener("scroll", () => {
      // while our own scroll is due the log has grown under it: that is not the user scrolling up
      if (!this.scrollDue) this.stick = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < STICK_PX;
    });
    this.log.addEventListener("click", onMarkdownClick);
    this.lazyRender = typeof IntersectionObserver === "undefined" ? null : new IntersectionObserver((entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        this.lazyRender?.unobserve(entry.target);
        this.deferredViews.get(entry.target)?.renderDeferred();
        this.deferredViews.delete(entry.target);
      }
    }, { root: this.log, rootMargin: "800px 0px" });

    this.input = h("textarea", {
      class: "ais-input",
      attrs: {
        "aria-label": "Message", rows: "2", placeholder: "Message (Enter to send, Shift+Enter for a new line)",
        "data-lm-suppress-shortcuts": "true",
      },
    });
    this.input.addEventListener("keydown", (e) => this.onKey(e));
    this.send = button("Send", "Send", () => this.submit(), "ais-primary");
    this.stop = button("■ Stop", "Stop", () => this.act({ type: "stop", client_id: uniqueId("stop") }), "ais-danger");
    const composer = h("div", { class: "ais-composer" }, this.input, this.send, this.stop);

    this.el = h("section", { class: "ais-chat", attrs: { "aria-label": "AI chat" } },
      header, this.confirmBar, this.notice, this.log, composer);

    this.subs.on("change:messages", () => this.renderLog());
    this.subs.on("change:switches", () => this.renderLog());
    this.subs.on("change:models", () => this.renderHeader());
    this.subs.on("change:model", () => this.renderHeader());
    this.subs.on("change:session_name", () => this.renderHeader());
    this.subs.on("change:session_state", () => this.renderState());
    this.subs.on("change:notice", () => this.renderState());
    this.subs.on("change:progress", () => this.renderProgress());
    this.subs.on("change:batch", () => this.renderProgress());
    this.subs.on("change:session_id", () => {
      this.stream = null;
      this.resetLog();
    });
    this.subs.on("msg:custom", ((msg: KernelMsg) => this.onKernelMsg(msg)) as (...args: never[]) => void);

    this.untrack = trackVisibility(this.el, () => this.model.get("session_id"));
    this.renderHeader();
    this.renderState();
    this.renderLog();
    this.renderProgress();
    this.model.send({ type: "view", open: true } satisfies ViewMsg);
    this.model.send({ type: "hello" } satisfies ViewMsg);
  }

  /** Stop rendering and tell the kernel this view is gone (once). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    cancelFrame(this);
    this.lazyRender?.disconnect();
    this.subs.dispose();
    this.progress.dispose();
    this.untrack();
    try {
      this.model.send({ type: "view", open: false } satisfies ViewMsg);
    } catch {
      // the model is already gone (widget closed)
    }
  }

  // -- kernel -> view ---------------------------------------------------------------------------
  private onKernelMsg(msg: KernelMsg): void {
    if (msg.type === "delta") {
      const result = mergeDelta(this.stream, msg);
      this.stream = result.stream;
      if (result.kind === "gap") {
        this.model.send({ type: "hello" } satisfies ViewMsg);
        return;
      }
      this.streamDue = true;
      requestFrame(this);
    } else if (msg.type === "ack") {
      const index = this.pending.findIndex((p) => p.clientId === msg.client_id);
      if (index >= 0) {
        const p = this.pending[index];
        if (msg.error) {
          this.pending.splice(index, 1);
          p.view.el.remove();
          if (!this.input.value) this.input.value = p.text;
        } else {
          p.accepted = true;
          this.settlePending();
        }
      }
      if (msg.error) {
        this.actionError = msg.error;
        this.select.reset();
      } else {
        this.actionError = "";
      }
      this.renderState();
    }
  }

  // -- view -> kernel ---------------------------------------------------------------------------
  private act(msg: ViewMsg): void {
    this.model.send(msg);
  }

  private submit(): void {
    const text = this.input.value.trim();
    if (!text || this.isStreaming() || this.isDead()) return;
    const clientId = uniqueId("send");
    const view = new MessageView(this.md, "user");
    view.update({ role: "user", status: "pending" as MessageData["status"], model: null, error: null }, text, []);
    const before = new Set((this.model.get("messages") ?? []).map((m) => m.id));
    this.pending.push({ clientId, text, view, before, accepted: false });
    this.input.value = "";
    this.stick = true;
    this.log.appendChild(view.el);
    this.scroll();
    this.act({ type: "send", text, client_id: clientId });
  }

  private onKey(e: KeyboardEvent): void {
    e.stopPropagation(); // keep JupyterLab's notebook shortcuts out of the message box
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.submit();
    } else if (e.key === "Escape" && this.isStreaming()) {
      e.preventDefault();
      this.act({ type: "stop", client_id: uniqueId("stop") });
    }
  }

  private askClear(): void {
    const count = this.model.get("messages").length;
    const yes = button("Clear messages", "Confirm clear", () => {
      this.confirmBar.hidden = true;
      this.act({ type: "clear", client_id: uniqueId("clear") });
      this.input.focus();
    }, "ais-danger");
    const no = button("Cancel", "Cancel", () => {
      this.confirmBar.hidden = true;
      this.clear.focus();
    }, "ais-quiet");
    this.confirmBar.replaceChildren(
      h("span", { text: `Delete all ${count} messages of “${this.model.get("session_name")}”? This cannot be undone.` }),
      yes, no);
    this.confirmBar.hidden = false;
    yes.focus();
  }

  // -- rendering --------------------------------------------------------------------------------
  private isStreaming(): boolean {
    return Boolean(this.model.get("progress")?.state);
  }

  private isDead(): boolean {
    const state = this.model.get("session_state");
    return state === "deleted" || state === "missing";
  }

  private renderHeader(): void {
    const name = this.model.get("session_name") || "chat";
    this.title.textContent = name;
    this.title.title = `session ${name} (${this.model.get("session_id")})`;
    this.el.setAttribute("aria-label", `AI chat: ${name}`);
    this.select.update(this.model.get("models") ?? [], this.model.get("model") ?? "");
  }

  private renderState(): void {
    const state = this.model.get("session_state");
    const texts: string[] = [];
    if (state === "deleted") texts.push("This session was deleted.");
    else if (state === "missing") texts.push("This session does not exist (any more).");
    else if (state === "closed") texts.push("This session is closed; sending a message reopens it.");
    const notice = this.model.get("notice");
    if (notice) texts.push(notice);
    if (this.actionError) texts.push(this.actionError);
    this.notice.textContent = texts.join(" ");
    this.notice.hidden = texts.length === 0;
    this.notice.classList.toggle("ais-notice-error", Boolean(this.actionError));
    this.updateControls();
  }

  private renderProgress(): void {
    this.progress.update(this.model.get("progress") ?? {}, this.model.get("batch") ?? {}, this.stream?.tokens ?? 0);
    this.updateControls();
  }

  private updateControls(): void {
    const streaming = this.isStreaming();
    const dead = this.isDead();
    const messages = this.model.get("messages") ?? [];
    this.stop.hidden = !streaming;
    this.send.hidden = streaming;
    this.send.disabled = dead;
    this.input.disabled = dead;
    this.select.disabled = dead;
    this.regenerate.disabled = streaming || dead || messages.length === 0;
    this.clear.disabled = streaming || dead || messages.length === 0;
  }

  private resetLog(): void {
    this.views.clear();
    this.dividers.clear();
    this.log.replaceChildren();
    this.renderLog();
  }

  /** Bring the log in line with the `messages` and `switches` traits, reusing existing elements. */
  private renderLog(): void {
    const messages = this.model.get("messages") ?? [];
    const switches = this.model.get("switches") ?? [];
    const models = this.model.get("models") ?? [];
    if (streamEnded(messages, this.stream)) this.stream = null;
    const order: HTMLElement[] = [];
    const seenMessages = new Set<string>();
    const seenDividers = new Set<string>();
    const byIndex = new Map<number, SwitchData[]>();
    for (const s of switches) byIndex.set(s.message_index, [...(byIndex.get(s.message_index) ?? []), s]);
    messages.forEach((m, i) => {
      for (const s of byIndex.get(i) ?? []) order.push(this.divider(s, seenDividers));
      let view = this.views.get(m.id);
      const fresh = !view;
      if (!view) {
        view = new MessageView(this.md, m.role);
        this.views.set(m.id, view);
      }
      // a long history shows its last messages rendered at once, older ones when they scroll into view;
      // one still waiting keeps waiting (a later update of the log must not render them all at once)
      const lazy = view.isDeferred || (fresh && this.lazyRender !== null && i < messages.length - EAGER_MESSAGES);
      view.update(m, displayText(m, this.stream), models, lazy);
      if (view.isDeferred && this.lazyRender && !this.deferredViews.has(view.el)) {
        this.deferredViews.set(view.el, view);
        this.lazyRender.observe(view.el);
      }
      seenMessages.add(m.id);
      order.push(view.el);
    });
    for (const [index, list] of byIndex) {
      if (index >= messages.length) for (const s of list) order.push(this.divider(s, seenDividers));
    }
    for (const [id, view] of this.views) {
      if (!seenMessages.has(id)) {
        this.lazyRender?.unobserve(view.el);
        view.el.remove();
        this.views.delete(id);
      }
    }
    for (const [key, el] of this.dividers) {
      if (!seenDividers.has(key)) {
        el.remove();
        this.dividers.delete(key);
      }
    }
    this.settlePending();
    for (const p of this.pending) order.push(p.view.el);
    order.forEach((el, i) => {
      if (this.log.children[i] !== el) this.log.insertBefore(el, this.log.children[i] ?? null);
    });
    this.updateControls();
    this.scroll();
  }

  /** Drop the placeholders of sent messages that the kernel took and that now show in `messages`. */
  private settlePending(): void {
    const messages = this.model.get("messages") ?? [];
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const p = this.pending[i];
      if (p.accepted && messages.some((m) => m.role === "user" && !p.before.has(m.id) && m.content === p.text)) {
        p.view.el.remove();
        this.pending.splice(i, 1);
      }
    }
  }

  private divider(s: SwitchData, seen: Set<string>): HTMLElement {
    const key = `${s.created_at}:${s.to}`;
    seen.add(key);
    let el = this.dividers.get(key);
    if (!el) {
      const to = s.to.includes(":") ? s.to.slice(s.to.indexOf(":") + 1) : s.to;
      el = h("div", { class: "ais-divider", attrs: { role: "separator", "data-model": s.to }, title: `${s.from} → ${s.to}${s.reason ? ` (${s.reason})` : ""}` },
        h("span", { text: `switched to ${to}` }));
      this.dividers.set(key, el);
    }
    return el;
  }

  /**
   * Frame work: show the text streamed since the last frame (however many deltas brought it), only in
   * the streaming reply.
   */
  write(): void {
    if (!this.streamDue || this.disposed) return;
    this.streamDue = false;
    const stream = this.stream;
    if (!stream) return;
    this.progress.setTokens(stream.tokens);
    const message = (this.model.get("messages") ?? []).find((m) => m.id === stream.messageId);
    const view = this.views.get(stream.messageId);
    if (!message || !view) return; // the messages trait has not caught up; renderLog will show it
    view.update(message, displayText(message, stream), this.model.get("models") ?? []);
    this.scrollDue = true;
  }

  /** Frame work, after every view's writes: keep the log at the bottom if it sticks there. */
  measure(): void {
    if (!this.scrollDue) return;
    this.scrollDue = false;
    if (this.stick) this.log.scrollTop = this.log.scrollHeight;
  }

  /** Scroll to the bottom (if the log sticks there) in the next frame, after every view's writes. */
  private scroll(): void {
    this.scrollDue = true;
    requestFrame(this);
  }
}
