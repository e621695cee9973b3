/**
 * The data the kernel and the browser exchange: synced trait values and custom messages.
 *
 * GENERATED from ai_sessions/widgets/contract.py by `python -m ai_sessions.widgets.contract_ts`:
 * do not edit by hand. Offsets and lengths count UTF-16 code units (JavaScript string indices).
 */

/** Kernel -> browser: the result of an action a view asked for. */
export interface AckMsg {
  type: "ack";
  client_id: string;
  error: string | null;
}

/** Stop, regenerate, clear, or inspect (open the session's inspector). */
export interface ActionMsg {
  type: "stop" | "regenerate" | "clear" | "inspect";
  client_id: string;
}

/** The `batch` trait while a batch runs on the session, and its summary once done. */
export interface BatchData {
  completed: number;
  failed: number;
  total: number;
  active: string | null;
  done: boolean;
  /** Seconds from start to end (set once done). */
  elapsed_s?: number | null;
  /** Once done: the number of messages then; the summary line goes there. */
  message_index?: number | null;
}

/** Kernel -> browser: the chat's code and styles, when a view asked for them (see chat_loader.ts). */
export interface BundleMsg {
  type: "bundle";
  id: string;
  js: string;
  css: string;
}

/** A view asks for the chat's code and styles (no server serves this build). */
export interface BundleRequestMsg {
  type: "bundle";
}

/** Synced traits of `ChatWidget`. */
export interface ChatTraits {
  session_id: string;
  session_name: string;
  /** The model replies come from now (after any fallback). */
  model: string;
  session_state: SessionState;
  notice: string;
  messages: MessageData[];
  switches: SwitchData[];
  models: ModelOption[];
  progress: ProgressData | Empty;
  batch: BatchData | Empty;
  /** `tab`: opened for a JupyterLab tab (open_tab); views outside the tab point to it. */
  placement?: "" | "tab";
}

/** Kernel -> browser: reply text appended since the last delta (at most one every ~50 ms per widget). */
export interface DeltaMsg {
  type: "delta";
  message_id: string;
  seq: number;
  /** Where `text` starts in the reply, in UTF-16 code units. */
  offset: number;
  text: string;
  tokens: number;
}

/** An empty object: no reply (or batch) in flight. */
export type Empty = Record<string, never>;

/** Kernel -> panel: a reply of some session ended. */
export interface FinishedMsg {
  type: "finished";
  session_id: string;
  name: string;
  status: MessageStatus;
}

/** A view asks for the whole text of the reply in flight (it joined mid-reply or found a gap). */
export interface HelloMsg {
  type: "hello";
}

/** A chat the panel shows inside itself (where no tab can open): its widget's model id and session. */
export interface InlineChat {
  model_id: string;
  session_id: string;
  name: string;
}

export type KernelMsg = DeltaMsg | AckMsg | BundleMsg;

/** One entry of the `messages` trait (`Message.to_dict()` in ai_sessions/model.py). */
export interface MessageData {
  id: string;
  seq: number;
  role: Role;
  /** The text (markdown for replies). While streaming, the last checkpoint; the deltas carry the rest. */
  content: string;
  model: string | null;
  status: MessageStatus;
  usage: UsageData | null;
  cost: number | null;
  error: string | null;
  error_kind: string | null;
  created_at: number;
  completed_at: number | null;
  /** Parts beyond the text (optional). */
  parts?: MessagePart[];
}

/** One part of a message (text, image, file, tool call or result, structured output). Not rendered yet. */
export interface MessagePart {
  kind: PartKind;
  [key: string]: unknown;
}

export type MessageStatus = "complete" | "streaming" | "stopped" | "failed" | "interrupted";

/** One entry of the `models` trait. `name` is empty for a provider that lists no model. */
export interface ModelOption {
  provider: string;
  name: string;
  short_name: string;
  available: boolean;
  reason: string | null;
  /** The Auto entry (provider `auto`): the candidates it picks from, in order. */
  candidates?: string[] | null;
}

/** Kernel -> panel: an action failed. */
export interface NoticeMsg {
  type: "notice";
  text: string;
}

export interface PanelActionMsg {
  type: "stop" | "close" | "delete" | "inspect";
  session_id: string;
}

export interface PanelCloseInlineMsg {
  type: "close_inline";
  model_id: string;
}

export type PanelKernelMsg = FinishedMsg | NoticeMsg;

/** Open a session's chat: in a tab where this page can open one (`tabs`), else inside the panel. */
export interface PanelOpenMsg {
  type: "open";
  session_id: string;
  tabs: boolean;
}

export interface PanelRefreshMsg {
  type: "refresh";
}

/** Synced traits of `HubPanel` (its scope, a local path, is not synced: saved notebooks stay clean). */
export interface PanelTraits {
  sessions: SessionRow[];
  /** Chats shown in the panel. */
  inline_chats?: InlineChat[];
}

export type PanelViewMsg = PanelActionMsg | PanelOpenMsg | PanelCloseInlineMsg | PanelRefreshMsg;

export type PartKind = "text" | "image" | "file" | "tool_call" | "tool_result" | "structured";

/** The `progress` trait while a reply is in flight. */
export interface ProgressData {
  message_id: string;
  state: ReplyState;
  started_at: number;
  first_token_at: number | null;
  tokens: number;
  model: string | null;
  /** Set while `state` is `retrying`. */
  retry?: RetryData | null;
}

export interface RefreshModelsMsg {
  type: "refresh_models";
}

export type ReplyState = "waiting" | "streaming" | "retrying";

/** A reply waiting to try again after a transient error. */
export interface RetryData {
  /** The attempt that comes next (2 for the first retry). */
  attempt: number;
  max_attempts: number;
  wait_s: number;
  /** When the next attempt starts (epoch seconds). */
  until: number;
  kind: RetryKind;
  reason: string;
}

export type RetryKind = "rate_limited" | "provider_error" | "timeout" | "connection";

export type Role = "user" | "assistant";

export type RowStatus = "idle" | "streaming" | "closed" | "stored";

export interface SendMsg {
  type: "send";
  text: string;
  client_id: string;
}

/** One row of `HubPanel.sessions`. */
export interface SessionRow {
  id: string;
  name: string;
  model: string;
  status: RowStatus;
  message_count: number;
  last_activity: number;
  input_tokens: number;
  output_tokens: number;
  cost: number | null;
  /** Some replies' prices are unknown: `cost` is a floor. */
  cost_partial?: boolean;
  live: boolean;
}

export type SessionState = "open" | "closed" | "deleted" | "missing";

/** One entry of the `switches` trait (`ModelSwitch.to_dict()` plus what answered). */
export interface SwitchData {
  from: string;
  to: string;
  /** Number of messages before the switch: its divider goes before message `message_index`. */
  message_index: number;
  reason: string | null;
  created_at: number;
  /** The model that answers after the switch (differs from `to` after a fallback). */
  answered_by?: string | null;
  /** Why `answered_by` differs from `to`. */
  fallback_reason?: string | null;
}

export interface SwitchModelMsg {
  type: "switch_model";
  model: string;
  client_id: string;
}

/** Token counts of one reply (the cache counts only when the provider used its prompt cache). */
export interface UsageData {
  input_tokens: number;
  output_tokens: number;
  /** Input tokens read from the prompt cache. */
  cache_read_tokens?: number | null;
  /** Input tokens written to the prompt cache. */
  cache_write_tokens?: number | null;
}

export type ViewMsg = SendMsg | ActionMsg | SwitchModelMsg | HelloMsg | RefreshModelsMsg | ViewOpenMsg | BundleRequestMsg | WhereMsg;

/** A view appeared (`open`) or went away. */
export interface ViewOpenMsg {
  type: "view";
  open: boolean;
}

/** Where a view ended up, once in the page: whether the page can open tabs, whether it is in one. */
export interface WhereMsg {
  type: "where";
  tabs: boolean;
  in_tab: boolean;
}
