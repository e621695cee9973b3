/**
 * What the chat grew for issue 13, kept out of chat_view.ts: the Session settings popover, attachments,
 * each message's tools (branch switcher, Edit, Delete, Retry, details), Delete with a few seconds of Undo,
 * day separators in a long history, and revealing a message (a search hit opened from the hub panel).
 *
 * chat_view.ts places the elements and calls in at a few points: `decorate` for each message it renders,
 * `visible` to leave out messages being deleted, `separators` for the day lines, `afterRender`, `onAck`.
 */

import type { AnyModel } from "./anywidget";
import { Attachments } from "./attachments";
import { daySeparators } from "./details";
import { button, h, uniqueId } from "./dom";
import { shortModelName } from "./format";
import { MessageTools } from "./message_tools";
import type { MessageView } from "./message_view";
import type { AckMsg, ChatTraits, MessageData, RevealData, ViewMsg } from "./protocol";
import { isSettings, SettingsPopover } from "./settings_popover";

/** How long a deleted message can be brought back before the kernel is told to delete it. */
export const UNDO_MS = 5000;
const REVEAL_MARK_MS = 2500;

interface PendingDelete {
  messageId: string;
  hidden: Set<string>;
  timer: number;
}

export class ChatExtras {
  readonly settings: SettingsPopover;
  readonly attachments: Attachments;
  /** "Message deleted. Undo" while a delete waits. */
  readonly undoBar: HTMLElement;
  private readonly tools = new WeakMap<MessageView, MessageTools>();
  private readonly separatorEls = new Map<string, HTMLElement>();
  private pendingDelete: PendingDelete | null = null;
  /** Ids deleted here and sent to the kernel, hidden until the `messages` trait drops them. */
  private gone = new Set<string>();
  /** Deletes sent, by client id: a refused one shows its messages again. */
  private deletes = new Map<string, Set<string>>();
  private revealed = 0;
  private busy = false;

  constructor(
    private readonly model: AnyModel<ChatTraits>,
    private readonly act: (msg: ViewMsg) => void,
    private readonly rerender: () => void,
    private readonly focusMessage: (el: HTMLElement) => void,
  ) {
    this.settings = new SettingsPopover((msg) => this.act(msg));
    this.attachments = new Attachments(() => this.rerender());
    this.undoBar = h("div", { class: "ais-undo", attrs: { role: "status" } });
    this.undoBar.hidden = true;
    this.syncSettings();
  }

  /** The `session_settings` or `models` trait changed. */
  syncSettings(): void {
    const settings = this.model.get("session_settings");
    const models = this.model.get("models") ?? [];
    this.settings.update(settings ?? {}, models);
    if (isSettings(settings)) {
      this.attachments.configure(settings.accepts, settings.limits, shortModelName(this.model.get("model") || settings.own.model, models));
    }
  }

  /**
   * `streaming`: a reply is in flight (the conversation cannot change under it: no edit, delete, branch
   * switch or retry); `dead`: the view is read-only (nothing at all).
   */
  setState(streaming: boolean, dead: boolean): void {
    const busy = streaming || dead;
    this.settings.disabled = dead;
    this.attachments.disabled = dead;
    if (busy === this.busy) return;
    this.busy = busy;
    this.rerender(); // the message tools follow
  }

  /** An ack for one of ours (settings saved): handled here. */
  onAck(msg: AckMsg): boolean {
    const deleted = this.deletes.get(msg.client_id);
    if (deleted) {
      this.deletes.delete(msg.client_id);
      if (msg.error) {
        for (const id of deleted) this.gone.delete(id);
        this.rerender();
      }
      return false; // the chat still shows a refusal's error
    }
    return this.settings.onAck(msg.client_id, msg.error);
  }

  // -- the log ------------------------------------------------------------------------------------------
  /** The messages to show: without those being deleted (waiting for Undo, or sent to the kernel). */
  visible(messages: readonly MessageData[]): MessageData[] {
    const ids = new Set(messages.map((m) => m.id));
    for (const id of this.gone) if (!ids.has(id)) this.gone.delete(id);
    const hidden = this.pendingDelete?.hidden;
    return messages.filter((m) => !this.gone.has(m.id) && !hidden?.has(m.id));
  }

  /** Day lines for `messages` (only when they span more than one day), by the index they go before. */
  separators(messages: readonly MessageData[]): Map<number, HTMLElement> {
    const out = new Map<number, HTMLElement>();
    const seen = new Set<string>();
    for (const [index, label] of daySeparators(messages)) {
      seen.add(label);
      let el = this.separatorEls.get(label);
      if (!el) {
        el = h("div", { class: "ais-divider ais-day", attrs: { role: "separator", "aria-label": label } }, h("span", { text: label }));
        this.separatorEls.set(label, el);
      }
      out.set(index, el);
    }
    for (const [label, el] of this.separatorEls) {
      if (!seen.has(label)) {
        el.remove();
        this.separatorEls.delete(label);
      }
    }
    return out;
  }

  /** Give `view` (showing `m`) its tools, up to date. */
  decorate(view: MessageView, m: MessageData, dead: boolean): void {
    let tools = this.tools.get(view);
    if (!tools) {
      tools = new MessageTools(view, {
        edit: (id, text) => this.act({ type: "edit", message_id: id, text, client_id: uniqueId("edit") }),
        delete: (id) => this.startDelete(id),
        retry: (id) => this.act({ type: "retry", message_id: id, client_id: uniqueId("retry") }),
        checkout: (id) => this.act({ type: "checkout", message_id: id, client_id: uniqueId("checkout") }),
      });
      this.tools.set(view, tools);
    }
    tools.update(m, this.model.get("models") ?? [], this.busy || dead);
  }

  /** After the log is rendered: scroll to a message asked for by `reveal` once it is there. */
  afterRender(find: (id: string) => HTMLElement | undefined): void {
    const reveal = this.model.get("reveal") as RevealData | Record<string, never> | undefined;
    if (!reveal || typeof reveal.nonce !== "number" || reveal.nonce === this.revealed) return;
    const el = find(reveal.message_id);
    if (!el) return;
    this.revealed = reveal.nonce;
    el.scrollIntoView({ block: "center" });
    el.classList.add("ais-revealed");
    this.focusMessage(el);
    window.setTimeout(() => el.classList.remove("ais-revealed"), REVEAL_MARK_MS);
  }

  // -- delete with undo -----------------------------------------------------------------------------------
  private startDelete(messageId: string): void {
    this.commitDelete(); // one at a time: an earlier one is done now
    const messages = this.model.get("messages") ?? [];
    const index = messages.findIndex((m) => m.id === messageId);
    if (index < 0) return;
    const hidden = new Set([messageId]);
    const next = messages[index + 1];
    if (messages[index].role === "user" && next?.role === "assistant") hidden.add(next.id); // its reply goes too
    this.pendingDelete = { messageId, hidden, timer: window.setTimeout(() => this.commitDelete(), UNDO_MS) };
    const undo = button("Undo", "Undo delete", () => this.undoDelete(), "ais-quiet");
    this.undoBar.replaceChildren(
      h("span", { text: hidden.size > 1 ? "Message and its reply deleted." : "Message deleted." }), undo);
    this.undoBar.hidden = false;
    this.rerender();
    undo.focus();
  }

  private undoDelete(): void {
    const pending = this.pendingDelete;
    if (!pending) return;
    window.clearTimeout(pending.timer);
    this.pendingDelete = null;
    this.undoBar.hidden = true;
    this.rerender();
  }

  /** Tell the kernel (the Undo time is over, another delete started, or the view goes away). */
  commitDelete(): void {
    const pending = this.pendingDelete;
    if (!pending) return;
    window.clearTimeout(pending.timer);
    this.pendingDelete = null;
    this.undoBar.hidden = true;
    for (const id of pending.hidden) this.gone.add(id);
    const clientId = uniqueId("delete");
    this.deletes.set(clientId, pending.hidden);
    this.act({ type: "delete", message_id: pending.messageId, client_id: clientId });
  }

  dispose(): void {
    this.commitDelete();
  }
}
