/**
 * The chat view: header (session name, model selector, progress bar, Regenerate, Clear), the message
 * log, and the composer (Message box, Send / Stop). State lives in the kernel; this view renders the
 * synced traits and merges streamed text from `delta` messages.
 *
 * Actions go to the kernel as custom messages. Jupyter delivers them only when the kernel's shell is
 * idle, so while a cell runs a sent message shows as "waiting for the kernel" until it is taken.
 * A view that lost its kernel side (kernel restarted, or restored from a saved notebook) says so, shows
 * the conversation read-only and never takes text out of the message box.
 *
 * The log is one tab stop (roving.ts); it does not read tokens aloud: a polite status region announces
 * each reply once it has ended (announce.ts).
 *
 * The log scrolls from its bottom (`column-reverse` around one block of messages): its resting place,
 * scroll offset 0, is the newest message. So it follows new text with no script, the browser's scroll
 * anchoring keeps what a reader scrolled up to in place while text arrives below, and whatever makes the
 * page lay the log out anew (a reload, a tab switch, a split view, JupyterLab re-attaching an off-screen
 * cell) leaves it at the bottom instead of the top.
 */

import type { AnyModel } from "./anywidget";
import { Subscriptions } from "./anywidget";
import { endedReplies, replyAnnouncement } from "./announce";
import { ApprovalView } from "./approval_view";
import { BlobCache } from "./blob_cache";
import { button, flash, h, uniqueId, withCode } from "./dom";
import { ChatExtras } from "./chat_extras";
import { batchSummary, isBatch, isReplying, plainHint, shortModelName } from "./format";
import { cancelFrame, requestFrame, type FrameWork } from "./frame";
import type { MarkdownRenderer } from "./markdown";
import { mentionedNames } from "./mention";
import { MentionList } from "./mention_view";
import { MessageView, onMarkdownClick } from "./message_view";
import { ModelSelect } from "./model_select";
import { claim, insertBelowChat, sharedNotebook } from "./notebook_cells";
import { userParts } from "./parts";
import { ProgressView } from "./progress_view";
import type { BatchData, ChatTraits, KernelMsg, MessageData, SwitchData, ViewMsg } from "./protocol";
import { RovingLog } from "./roving";
import { displayText, mergeDelta, streamEnded, type StreamText } from "./stream";
import { trackVisibility } from "./visibility";

/** Messages at the end of the log rendered at once; older ones render as they scroll into view. */
const EAGER_MESSAGES = 40;

interface Pending {
  clientId: string;
  text: string;
  /** Attached files, given back to the composer if the kernel refuses the message. */
  files: File[];
  view: MessageView;
  /** Ids of the messages shown when it was sent: the echo is a new user message with this text. */
  before: Set<string>;
  accepted: boolean;
}

/** View messages that start a reply or change the branch shown. */
const STARTS_REPLY = new Set<ViewMsg["type"]>(["send", "regenerate", "edit", "retry", "checkout"]);

/** Whether the view still reaches its kernel side (see connection.ts). */
export interface ConnectionState {
  readonly connected: boolean;
}

export const DISCONNECTED_TEXT = "Disconnected — run the cell again to reconnect.";

export class ChatView implements FrameWork {
  readonly el: HTMLElement;
  /**
   * The polite status region that says each reply once it has ended. Not inside `el`: whoever shows the
   * chat puts it next to it (so the chat's text is found once, in the log).
   */
  readonly live: HTMLElement;
  private readonly subs: Subscriptions<ChatTraits>;
  private readonly title: HTMLElement;
  private readonly select: ModelSelect;
  private readonly progress: ProgressView;
  private readonly regenerate: HTMLButtonElement;
  private readonly clear: HTMLButtonElement;
  private readonly inspect: HTMLButtonElement;
  private readonly confirmBar: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly log: HTMLElement;
  /** The messages, dividers and hints, in reading order (the log's one child). */
  private readonly items: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly send: HTMLButtonElement;
  private readonly stop: HTMLButtonElement;
  // issue 12 (chat_tools.py): approval cards, @ completion, thumbnails
  private readonly approvals: ApprovalView;
  private readonly mentions: MentionList;
  private readonly blobs: BlobCache;
  /** Ids of the calls waiting for approval: their cards in the log say so. */
  private readonly waiting = new Set<string>();
  private readonly views = new Map<string, MessageView>();
  /** Renders deferred markdown as messages near the visible part of the log (null without IntersectionObserver). */
  private readonly lazyRender: IntersectionObserver | null;
  private readonly deferredViews = new WeakMap<Element, MessageView>();
  private readonly dividers = new Map<string, HTMLElement>();
  private readonly empty: HTMLElement;
  private readonly batchLine: HTMLElement;
  private readonly roving: RovingLog;
  private readonly pending: Pending[] = [];
  private stream: StreamText | null = null;
  /** Message statuses at the last render (null before the first): which replies ended since. */
  private statuses: Map<string, MessageData["status"]> | null = null;
  /** Streamed text arrived since the last frame. */
  private streamDue = false;
  /** The user sent a message: show the bottom of the log in the next frame, even if they had scrolled up. */
  private jumpDue = false;
  private actionError = "";
  private readonly untrack: () => void;
  private disposed = false;
  /** Settings popover, attachments, message tools, delete with undo, day lines, reveal (chat_extras.ts). */
  private readonly extras: ChatExtras;

  constructor(
    private readonly model: AnyModel<ChatTraits>,
    private readonly md: MarkdownRenderer,
    private readonly connection: ConnectionState = { connected: true },
    /** A notice of this view only (e.g. why the chat shows here instead of in a tab). */
    private readonly viewNotice = "",
  ) {
    this.subs = new Subscriptions(model);
    this.title = h("span", { class: "ais-title" });
    this.select = new ModelSelect(
      (m) => this.act({ type: "switch_model", model: m, client_id: uniqueId("switch") }),
      () => this.act({ type: "refresh_models" }),
      (name) => this.act({ type: "use_agent", name, client_id: uniqueId("agent") }),
    );
    this.progress = new ProgressView();
    this.regenerate = button("↻ Regenerate", "Regenerate", () => this.act({ type: "regenerate", client_id: uniqueId("regen") }), "ais-quiet");
    this.clear = button("Clear", "Clear", () => this.askClear(), "ais-quiet");
    this.inspect = button("Inspect", "Inspect this session", () => this.act({ type: "inspect", client_id: uniqueId("inspect") }), "ais-quiet");
    this.extras = new ChatExtras(model, (msg) => this.act(msg), () => this.renderLog(), (el) => el.focus({ preventScroll: true }));
    const header = h("div", { class: "ais-header" }, this.title, this.select.el, this.extras.settings.button,
      this.progress.el, h("span", { class: "ais-spacer" }), this.regenerate, this.clear, this.inspect);

    this.confirmBar = h("div", { class: "ais-confirm", attrs: { role: "alertdialog", "aria-label": "Confirm clear" } });
    this.confirmBar.hidden = true;
    this.notice = h("div", { class: "ais-notice", attrs: { role: "status", "aria-live": "polite" } });

    // aria-live off: a role=log region is polite by default, and would read every streamed token
    this.items = h("div", { class: "ais-log-items" });
    this.log = h("div", { class: "ais-log", attrs: { role: "log", "aria-label": "Messages", "aria-live": "off" } }, this.items);
    this.log.addEventListener("click", onMarkdownClick);
    this.log.addEventListener("click", (e) => this.onInsertClick(e));
    this.roving = new RovingLog(this.items);
    this.empty = h("p", { class: "ais-empty" });
    this.batchLine = h("div", { class: "ais-batch-summary", attrs: { role: "note" } });
    this.live = h("div", { class: "ais-sr-only", attrs: { role: "status", "aria-live": "polite", "aria-atomic": "true" } });
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
    this.input.addEventListener("paste", (e) => this.extras.attachments.onPaste(e));
    this.send = button("Send", "Send", () => this.submit(), "ais-primary");
    this.stop = button("■ Stop", "Stop", () => this.act({ type: "stop", client_id: uniqueId("stop") }), "ais-danger");
    this.mentions = new MentionList(this.input, (id) => this.act({ type: "variables", request_id: id }));
    const composer = h("div", { class: "ais-composer" }, this.mentions.el, this.input, this.extras.attachments.button,
      this.send, this.stop);
    this.approvals = new ApprovalView(md, (callId, approved, always) =>
      this.act({ type: "approve", call_id: callId, approved, always }), () => this.input);
    this.blobs = new BlobCache((blob) => {
      if (!this.online()) return false;
      this.act({ type: "blob", blob });
      return true;
    });

    this.el = h("section", { class: "ais-chat", attrs: { "aria-label": "AI chat" } },
      header, this.extras.settings.el, this.confirmBar, this.notice, this.extras.undoBar, this.log,
      this.approvals.el, this.extras.attachments.el, composer);
    this.el.dataset.insert = sharedNotebook(model.widget_manager) ? "yes" : "no";
    this.el.addEventListener("dragover", (e) => { // files dropped on the chat are attached
      if (!e.dataTransfer?.types.includes("Files") || !this.online() || this.isDead()) return;
      e.preventDefault();
      this.el.classList.add("ais-dropping");
    });
    this.el.addEventListener("dragleave", (e) => {
      if (!this.el.contains(e.relatedTarget as Node | null)) this.el.classList.remove("ais-dropping");
    });
    this.el.addEventListener("drop", (e) => {
      this.el.classList.remove("ais-dropping");
      if (!e.dataTransfer?.files.length || !this.online() || this.isDead()) return;
      e.preventDefault();
      this.extras.attachments.add(Array.from(e.dataTransfer.files));
    });

    this.subs.on("change:messages", () => this.renderLog());
    this.subs.on("change:switches", () => this.renderLog());
    this.subs.on("change:models", () => this.renderHeader());
    this.subs.on("change:agents", () => this.renderHeader());
    this.subs.on("change:approvals", () => this.renderApprovals());
    this.subs.on("change:model", () => this.renderHeader());
    this.subs.on("change:session_settings", () => this.extras.syncSettings());
    this.subs.on("change:reveal", () => this.renderLog());
    this.subs.on("change:session_name", () => this.renderHeader());
    this.subs.on("change:session_state", () => this.renderState());
    this.subs.on("change:notice", () => this.renderState());
    this.subs.on("change:progress", () => this.renderProgress());
    this.subs.on("change:batch", () => {
      this.renderProgress();
      this.renderLog();
    });
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
    this.renderApprovals();
    this.act({ type: "view", open: true });
    this.act({ type: "hello" });
  }

  /** The connection was lost: show it, give unsent text back to the box, and render read-only. */
  disconnected(): void {
    if (this.disposed) return;
    for (const p of this.pending.splice(0)) {
      p.view.el.remove();
      if (!p.accepted && !this.input.value) this.input.value = p.text;
    }
    this.confirmBar.hidden = true;
    this.renderState();
    this.renderProgress();
    this.renderApprovals();
    this.renderLog();
  }

  /** Stop rendering and tell the kernel this view is gone (once). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.extras.dispose();
    cancelFrame(this);
    this.lazyRender?.disconnect();
    this.subs.dispose();
    this.progress.dispose();
    this.untrack();
    this.act({ type: "view", open: false });
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
      if (this.extras.onAck(msg)) return;
      const index = this.pending.findIndex((p) => p.clientId === msg.client_id);
      if (index >= 0) {
        const p = this.pending[index];
        if (msg.error) {
          this.pending.splice(index, 1);
          p.view.el.remove();
          if (!this.input.value) this.input.value = p.text;
          this.extras.attachments.restore(p.files);
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
    } else if (msg.type === "variables") {
      this.mentions.answer(msg.request_id, msg.rows);
    } else if (msg.type === "blob") {
      this.blobs.answer(msg);
    } else if (msg.type === "insert_cell") {
      if (!claim(msg.request_id)) return; // another view of this page took it
      const result = insertBelowChat(this.model.widget_manager, this.model.get("widget_id") ?? "", msg.source, msg.cell_type);
      this.act(result.ok
        ? { type: "inserted", request_id: msg.request_id, error: null, where: result.where }
        : { type: "inserted", request_id: msg.request_id, error: result.error });
    }
  }

  /** "Insert below" on a code block: a cell with its code below the chat (notebook_cells.ts). */
  private onInsertClick(event: MouseEvent): void {
    const b = (event.target as HTMLElement | null)?.closest<HTMLButtonElement>("button[data-ais-action=insert-code]");
    if (!b) return;
    const code = b.closest(".ais-code")?.querySelector("code")?.textContent ?? "";
    const markdown = b.dataset.aisLang === "markdown" || b.dataset.aisLang === "md";
    const result = insertBelowChat(this.model.widget_manager, this.model.get("widget_id") ?? "", code, markdown ? "markdown" : "code");
    flash(b, result.ok ? "Inserted" : "Not inserted");
    this.actionError = result.ok ? "" : `Insert below: ${result.error}`;
    if (result.ok) this.live.textContent = `Inserted a cell ${result.where}.`;
    this.renderState();
  }

  // -- view -> kernel ---------------------------------------------------------------------------
  private act(msg: ViewMsg, buffers?: ArrayBuffer[]): void {
    if (!this.online()) return;
    // a delete waiting for its Undo is done before anything that asks the model (or changes the branch):
    // the kernel handles messages in order, so the model never sees a message the user removed
    if (STARTS_REPLY.has(msg.type)) this.extras.commitDelete();
    try {
      this.model.send(msg, undefined, buffers);
    } catch {
      // the comm is gone (widget closed, kernel replaced): the connection check below tells
    }
  }

  private online(): boolean {
    return this.connection.connected;
  }

  private submit(): void {
    const text = this.input.value.trim();
    const attached = this.extras.attachments;
    if ((!text && !attached.count) || this.isStreaming() || this.isDead() || !this.online()) return;
    const refused = attached.count ? attached.refusal() : null;
    if (refused) {
      this.actionError = refused;
      this.renderState();
      return;
    }
    const clientId = uniqueId("send");
    const view = new MessageView(this.md, "user");
    view.update({ role: "user", status: "pending" as MessageData["status"], model: null, error: null }, text, []);
    const before = new Set((this.model.get("messages") ?? []).map((m) => m.id));
    const payload = attached.count ? attached.payload() : null;
    const files = attached.take();
    this.pending.push({ clientId, text, files, view, before, accepted: false });
    this.input.value = "";
    this.items.appendChild(view.el);
    this.jumpDue = true;
    requestFrame(this);
    const context = mentionedNames(text); // `@df`: the kernel attaches the variables that exist
    const message = { type: "send" as const, text, client_id: clientId, ...(context.length ? { context } : {}) };
    if (!payload) {
      this.act(message);
      return;
    }
    void payload.then(({ meta, buffers }) => this.act({ ...message, attachments: meta }, buffers));
  }

  private onKey(e: KeyboardEvent): void {
    e.stopPropagation(); // keep JupyterLab's notebook shortcuts out of the message box
    if (this.mentions.onKey(e)) return;
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.submit();
    } else if (e.key === "Escape" && this.isStreaming()) {
      e.preventDefault();
      this.act({ type: "stop", client_id: uniqueId("stop") });
    }
  }

  private askClear(): void {
    if (!this.online()) return;
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
    return isReplying(this.model.get("progress")) && this.online();
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
    this.select.update(this.model.get("models") ?? [], this.model.get("model") ?? "", this.model.get("agents") ?? []);
  }

  private renderState(): void {
    const state = this.model.get("session_state");
    const texts: string[] = [];
    const online = this.online();
    this.el.dataset.connection = online ? "live" : "lost";
    if (!online) texts.push(DISCONNECTED_TEXT);
    else if (state === "deleted") texts.push("This session was deleted.");
    else if (state === "missing") texts.push("This session does not exist (any more).");
    else if (state === "closed") texts.push("This session is closed; sending a message reopens it.");
    const notice = this.model.get("notice");
    if (notice) texts.push(notice);
    if (this.viewNotice) texts.push(this.viewNotice);
    if (this.actionError) texts.push(this.actionError);
    this.notice.replaceChildren(h("span", {}, ...withCode(texts.join(" "))));
    this.notice.hidden = texts.length === 0;
    this.notice.classList.toggle("ais-notice-error", Boolean(this.actionError));
    this.updateControls();
  }

  private renderProgress(): void {
    if (this.online()) {
      this.progress.update(this.model.get("progress") ?? {}, this.model.get("batch") ?? {}, this.stream?.tokens ?? 0);
    } else {
      this.progress.update({}, {}, 0); // no clock runs for a reply nobody is streaming here
    }
    this.updateControls();
  }

  /** The tool calls waiting for the user's approval; a new one is said in the status region. */
  private renderApprovals(): void {
    const approvals = this.model.get("approvals") ?? [];
    const fresh = this.approvals.update(approvals, this.online());
    if (fresh.length) this.live.textContent = `${fresh.map((a) => a.name).join(", ")} waits for your approval.`;
    const ids = approvals.map((a) => a.call_id);
    if (ids.length !== this.waiting.size || ids.some((id) => !this.waiting.has(id))) {
      this.waiting.clear();
      for (const id of ids) this.waiting.add(id);
      this.renderLog(); // the calls' cards say what they wait for
    }
  }

  /** The finished batch whose summary line the log shows (at the message count it ended at), or null. */
  private finishedBatch(messageCount: number): BatchData | null {
    const batch = this.model.get("batch");
    if (!isBatch(batch) || !batch.done) return null;
    const at = batch.message_index ?? messageCount;
    return at <= messageCount ? batch : null;
  }

  private updateControls(): void {
    const streaming = this.isStreaming();
    const dead = this.isDead() || !this.online();
    const messages = this.model.get("messages") ?? [];
    this.stop.hidden = !streaming;
    this.stop.disabled = dead;
    this.send.hidden = streaming;
    this.send.disabled = dead;
    this.input.disabled = dead;
    this.select.disabled = dead;
    this.extras.setState(streaming, dead);
    this.regenerate.disabled = streaming || dead || messages.length === 0;
    this.clear.disabled = streaming || dead || messages.length === 0;
    this.inspect.disabled = dead;
  }

  private resetLog(): void {
    this.views.clear();
    this.dividers.clear();
    this.items.replaceChildren();
    this.renderLog();
  }

  /**
   * Bring the log in line with the `messages`, `switches` and `batch` traits, reusing existing elements.
   * A divider (or the batch summary) goes before the message at its `message_index`; one placed past the
   * last message belongs to messages that were cleared, and is dropped.
   */
  private renderLog(): void {
    const messages = this.extras.visible(this.model.get("messages") ?? []);
    const switches = (this.model.get("switches") ?? []).filter((s) => s.message_index <= messages.length);
    const models = this.model.get("models") ?? [];
    const batch = this.finishedBatch(messages.length);
    if (streamEnded(messages, this.stream)) this.stream = null;
    const order: HTMLElement[] = [];
    const seenMessages = new Set<string>();
    const seenDividers = new Set<string>();
    const byIndex = new Map<number, HTMLElement[]>();
    const place = (index: number, el: HTMLElement): void => {
      byIndex.set(index, [...(byIndex.get(index) ?? []), el]);
    };
    switches.forEach((s, i) => place(s.message_index, this.divider(s, switches[i + 1], messages, seenDividers)));
    for (const [index, el] of this.extras.separators(messages)) place(index, el);
    if (batch) {
      this.batchLine.replaceChildren(`Batch: ${batchSummary(batch)}`);
      place(batch.message_index ?? messages.length, this.batchLine);
    }
    const counts = { user: 0, assistant: 0 };
    messages.forEach((m, i) => {
      order.push(...(byIndex.get(i) ?? []));
      let view = this.views.get(m.id);
      const fresh = !view;
      if (!view) {
        view = new MessageView(this.md, m.role, m.id, { blobs: this.blobs, waiting: this.waiting });
        this.views.set(m.id, view);
      }
      // a long history shows its last messages rendered at once, older ones when they scroll into view;
      // one still waiting keeps waiting (a later update of the log must not render them all at once)
      const lazy = view.isDeferred || (fresh && this.lazyRender !== null && i < messages.length - EAGER_MESSAGES);
      view.update(this.shown(m), displayText(m, this.stream), models, lazy);
      view.setNumber(++counts[m.role]);
      this.extras.decorate(view, m, this.isDead() || !this.online());
      if (view.isDeferred && this.lazyRender && !this.deferredViews.has(view.el)) {
        this.deferredViews.set(view.el, view);
        this.lazyRender.observe(view.el);
      }
      seenMessages.add(m.id);
      order.push(view.el);
    });
    order.push(...(byIndex.get(messages.length) ?? []));
    if (!batch) this.batchLine.remove();
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
    for (const p of this.pending) {
      p.view.setNumber(++counts.user, true);
      order.push(p.view.el);
    }
    if (messages.length === 0 && this.pending.length === 0) {
      this.empty.textContent = isBatch(this.model.get("batch"))
        ? "No messages here: batch items (s.map) are answered without entering the history. Write below to chat."
        : "No messages yet. Write below: Enter sends, Shift+Enter starts a new line.";
      order.unshift(this.empty);
    } else {
      this.empty.remove();
    }
    order.forEach((el, i) => {
      if (this.items.children[i] !== el) this.items.insertBefore(el, this.items.children[i] ?? null);
    });
    this.roving.refresh();
    this.announce(messages);
    this.updateControls();
    this.extras.afterRender((id) => this.views.get(id)?.el);
  }

  /** Say each reply that ended since the last render, once, in the status region (not token by token). */
  private announce(messages: readonly MessageData[]): void {
    const ended = endedReplies(this.statuses, messages);
    this.statuses = new Map(messages.map((m) => [m.id, m.status]));
    const last = ended[ended.length - 1];
    const view = last && this.views.get(last.id);
    if (!last || !view) return;
    this.live.textContent = replyAnnouncement(last, view.el.getAttribute("aria-label") ?? view.label, view.spokenText());
  }

  /** A message as shown: with no kernel side, a reply saved mid-way is not streaming here. */
  private shown(m: MessageData): MessageData {
    return m.status === "streaming" && !this.online() ? { ...m, status: "interrupted" } : m;
  }

  /** Drop the placeholders of sent messages that the kernel took and that now show in `messages`. */
  private settlePending(): void {
    const messages = this.model.get("messages") ?? [];
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const p = this.pending[i];
      if (p.accepted && messages.some((m) => m.role === "user" && !p.before.has(m.id) && userParts(m.parts, m.content).text === p.text)) {
        p.view.el.remove();
        this.pending.splice(i, 1);
      }
    }
  }

  /**
   * The line marking switch `s`: the model asked for and, when another one answers (a fallback), that
   * one too. What answered is the kernel's `answered_by`, else the first reply after the switch.
   */
  private divider(s: SwitchData, next: SwitchData | undefined, messages: readonly MessageData[], seen: Set<string>): HTMLElement {
    const models = this.model.get("models") ?? [];
    const end = next ? next.message_index : messages.length;
    const answered = s.answered_by ?? messages.slice(s.message_index, end).find((m) => m.role === "assistant" && m.model)?.model ?? null;
    const to = shortModelName(s.to, models);
    const other = answered && answered !== s.to ? shortModelName(answered, models) : null;
    const text = other ? `switched to ${to} · ${other} answers` : `switched to ${to}`;
    const why = plainHint([s.reason, other && s.fallback_reason ? `${other} answers: ${s.fallback_reason}` : null].filter(Boolean).join("; "));
    const key = `${s.created_at}:${s.to}`;
    seen.add(key);
    let el = this.dividers.get(key);
    if (!el) {
      el = h("div", { class: "ais-divider", attrs: { role: "separator", "data-model": s.to } }, h("span"));
      this.dividers.set(key, el);
    }
    const label = `Model ${text}${why ? ` (${why})` : ""}`;
    if (el.getAttribute("aria-label") !== label) {
      el.setAttribute("aria-label", label);
      el.title = `${s.from} → ${s.to}${answered && answered !== s.to ? ` → ${answered}` : ""}${why ? ` (${why})` : ""}`;
      (el.firstElementChild as HTMLElement).textContent = text;
      el.dataset.answeredBy = answered ?? "";
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
    view.update(this.shown(message), displayText(message, stream), this.model.get("models") ?? []);
  }

  /** Frame work, after every view's writes: the bottom of the log after the user sent a message. */
  measure(): void {
    if (!this.jumpDue) return;
    this.jumpDue = false;
    this.log.scrollTop = 0;
  }
}

