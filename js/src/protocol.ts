/**
 * The data the kernel and the browser exchange: synced trait values and custom messages.
 *
 * GENERATED from ai_sessions/widgets/contract.py by `python -m ai_sessions.widgets.contract_ts`:
 * do not edit by hand. Offsets and lengths count UTF-16 code units (JavaScript string indices).
 */

/** What the model answering now can take besides text (text files go to every model). */
export interface Accepts {
  images: boolean;
  documents: boolean;
}

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

/** What a reply waits for between model rounds: tools running, or the user's approval. */
export interface ActivityData {
  kind: "tool" | "approval";
  /** The tools called (or waiting for approval), in call order. */
  names: string[];
}

/** One entry of the `agents` trait: an `[agents.NAME]` preset of the settings. */
export interface AgentOption {
  name: string;
  model: string | null;
  description: string;
  tools: string[];
}

/** One entry of the `approvals` trait: a tool call waiting for the user's Approve or Deny. */
export interface ApprovalData {
  call_id: string;
  message_id: string;
  name: string;
  source: string;
  arguments: Record<string, unknown>;
}

/** The user's answer to a tool call waiting for approval. */
export interface ApproveMsg {
  type: "approve";
  call_id: string;
  approved: boolean;
  /** Always allow this tool in this session (with `approved`). */
  always: boolean;
}

/** What one message may carry (the kernel checks the same numbers). */
export interface AttachLimits {
  max_total_bytes: number;
  max_image_bytes: number;
  max_count: number;
}

/** A file sent with a message; its bytes are the message's binary buffer at the same index. */
export interface AttachmentMeta {
  name: string;
  media_type: string;
  size: number;
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

/** Kernel -> browser: the bytes of an image a view asked for (base64), or why not. */
export interface BlobMsg {
  type: "blob";
  blob: string;
  media_type: string;
  data: string | null;
  error: string | null;
}

/** A view asks for an image's bytes (to show a thumbnail). */
export interface BlobRequestMsg {
  type: "blob";
  blob: string;
}

/** Where a message stands among the messages sharing its parent (the chat's "2/3" branch switcher). */
export interface BranchData {
  /** 0-based. */
  index: number;
  count: number;
  /** The previous sibling's id: checking it out shows its branch. */
  previous: string | null;
  next: string | null;
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
  /** Tool calls waiting for approval. */
  approvals?: ApprovalData[];
  /** Agent presets, offered above the models. */
  agents?: AgentOption[];
  /** This widget's model id: a view finds the notebook cell that shows it by it. */
  widget_id?: string;
  /** For the settings popover. */
  session_settings?: SessionSettingsData | Empty;
  /** A message to scroll to, or {}. */
  reveal?: RevealData | Empty;
}

/** The Session settings popover was saved (null / empty: back to the inherited default). */
export interface ConfigureMsg {
  type: "configure";
  model: string;
  temperature: number | null;
  max_tokens: number | null;
  system_prompt: string;
  client_id: string;
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

/** Ask again from one of the user's messages with `text` instead (a new branch). */
export interface EditMsg {
  type: "edit";
  message_id: string;
  text: string;
  client_id: string;
}

/** An empty object: no reply (or batch) in flight. */
export type Empty = Record<string, never>;

/** A file; its bytes stay in the kernel. */
export interface FilePartData {
  kind: "file";
  name: string;
  media_type: string;
  blob: string | null;
  size: number | null;
}

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

export interface HighlightPiece {
  text: string;
  match: boolean;
}

/** An image; its bytes stay in the kernel (a view asks for them with a `blob` message). */
export interface ImagePartData {
  kind: "image";
  media_type: string;
  blob: string | null;
  size: number | null;
}

/** A chat the panel shows inside itself (where no tab can open): its widget's model id and session. */
export interface InlineChat {
  model_id: string;
  session_id: string;
  name: string;
}

/**
 * Kernel -> browser: add a cell below the chat's cell (the `insert_cell` tool); a view answers
 * with an `inserted` message.
 */
export interface InsertCellMsg {
  type: "insert_cell";
  request_id: string;
  source: string;
  cell_type: "code" | "markdown";
}

/** A view's answer to `insert_cell`: `error` is null once the cell was added. */
export interface InsertedMsg {
  type: "inserted";
  request_id: string;
  error: string | null;
  /** Where the cell went, e.g. `below the chat's cell (cell 4)`. */
  where?: string;
}

/** One row of `HubPanel.jobs`: a map not ended (live, or at a provider's Batch API). */
export interface JobRow {
  id: string;
  /** The session's name, or empty when it is not in this notebook. */
  session: string;
  mode: "live" | "batch";
  model: string;
  state: "submitting" | "running" | "cancelling" | "collecting" | "interrupted";
  /** The provider's own word for a batch job's state. */
  provider_state: string | null;
  completed: number | null;
  failed: number | null;
  total: number;
  /** This kernel runs or polls the job. */
  followed: boolean;
}

export type KernelMsg = DeltaMsg | AckMsg | BundleMsg | VariablesMsg | InsertCellMsg | BlobMsg;

/**
 * Act on one message: `delete` it (a prompt with its replies), `checkout` the newest branch through
 * it (the branch switcher), or `retry` it (a failed reply, asked again in place).
 */
export interface MessageActionMsg {
  type: "delete" | "checkout" | "retry";
  message_id: string;
  client_id: string;
}

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
  /** The message's parts: text, images, files, tool calls and results. */
  parts?: MessagePart[];
  /** The message before it on its branch. */
  parent_id?: string | null;
  /** Set when the message has siblings (branches). */
  branch?: BranchData | null;
  /** A reply's timing, when known. */
  timing?: TimingData | null;
}

export type MessagePart = TextPartData | ImagePartData | FilePartData | ToolCallPartData | ToolResultPartData | StructuredPartData;

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
  /** Whether the model can call tools (None: unknown). */
  tools?: boolean | null;
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

export type PanelKernelMsg = FinishedMsg | NoticeMsg | SearchResultsMsg;

/** Open a session's chat: in a tab where this page can open one (`tabs`), else inside the panel. */
export interface PanelOpenMsg {
  type: "open";
  session_id: string;
  tabs: boolean;
  /** Scroll the chat to this message (a search hit). */
  message_id?: string | null;
}

export interface PanelRefreshMsg {
  type: "refresh";
}

/** Search the stored sessions (the panel's Search sessions box). */
export interface PanelSearchMsg {
  type: "search";
  query: string;
  all_scopes: boolean;
}

/** Synced traits of `HubPanel` (its scope, a local path, is not synced: saved notebooks stay clean). */
export interface PanelTraits {
  sessions: SessionRow[];
  /** Chats shown in the panel. */
  inline_chats?: InlineChat[];
  /** The jobs (maps) not ended. */
  jobs?: JobRow[];
}

export type PanelViewMsg = PanelActionMsg | PanelOpenMsg | PanelCloseInlineMsg | PanelRefreshMsg | PanelSearchMsg;

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
  /** Set while tools run or wait for approval. */
  activity?: ActivityData | null;
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

/** The `reveal` trait: scroll the log to a message and mark it (a search hit opened from the panel). */
export interface RevealData {
  message_id: string;
  /** Changes each time, so revealing the same message again is seen. */
  nonce: number;
}

export type Role = "user" | "assistant";

export type RowStatus = "idle" | "streaming" | "closed" | "stored";

/** One search hit (`SearchHit.to_dict()` in ai_sessions/search.py). */
export interface SearchHitData {
  session_id: string;
  session_name: string;
  message_id: string;
  position: number;
  role: Role;
  created_at: number;
  snippet: string;
  /** The snippet in pieces, the matched words marked. */
  highlights: HighlightPiece[];
}

/** Kernel -> panel: the hits of the search a view asked for (`query` says which). */
export interface SearchResultsMsg {
  type: "search_results";
  query: string;
  hits: SearchHitData[];
  error?: string | null;
}

export interface SendMsg {
  type: "send";
  text: string;
  client_id: string;
  /** Names written as `@name` in the text: the kernel attaches those that exist. */
  context?: string[];
  /** Files, bytes in the buffers. */
  attachments?: AttachmentMeta[];
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

/** The `session_settings` trait: the Session settings popover's values and the defaults inherited. */
export interface SessionSettingsData {
  /** The session's own values (`model`: the model asked for). */
  own: SettingsValues;
  /** What applies where the session sets nothing (settings.toml). */
  defaults: SettingsValues;
  accepts: Accepts;
  limits: AttachLimits;
}

export type SessionState = "open" | "closed" | "deleted" | "missing";

/** A session's model and reply parameters (null: not set, the default applies). */
export interface SettingsValues {
  model: string;
  temperature: number | null;
  max_tokens: number | null;
  system_prompt: string | null;
}

/** A validated structured result (JSON) for `schema`. */
export interface StructuredPartData {
  kind: "structured";
  data: unknown;
  schema: string;
}

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

/** Text (markdown in replies). */
export interface TextPartData {
  kind: "text";
  text: string;
}

/** A reply's timing, from its final event (none for replies older than the store keeps events). */
export interface TimingData {
  /** Seconds from the request to the end. */
  elapsed: number | null;
  /** Seconds from the request to the first text. */
  first_token_s: number | null;
}

/** The model asked to call tool `name` with `arguments`; `id` pairs it with its result. */
export interface ToolCallPartData {
  kind: "tool_call";
  id: string;
  name: string;
  arguments: Record<string, unknown>;
}

/** What tool call `call_id` returned (its error when `is_error`). */
export interface ToolResultPartData {
  kind: "tool_result";
  call_id: string;
  name: string;
  is_error: boolean;
  parts: MessagePart[];
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

/** Apply an agent preset to the session. */
export interface UseAgentMsg {
  type: "use_agent";
  name: string;
  client_id: string;
}

/** A variable of the user's namespace, for `@` completion (never its value). */
export interface VariableRow {
  name: string;
  type: string;
  shape: string;
}

/** Kernel -> browser: the user's variables, answering a `variables` request. */
export interface VariablesMsg {
  type: "variables";
  request_id: string;
  rows: VariableRow[];
}

/** A view asks for the user's variables (`@` was typed). */
export interface VariablesRequestMsg {
  type: "variables";
  request_id: string;
}

export type ViewMsg = SendMsg | ActionMsg | SwitchModelMsg | HelloMsg | RefreshModelsMsg | ViewOpenMsg | BundleRequestMsg | WhereMsg | ApproveMsg | VariablesRequestMsg | InsertedMsg | UseAgentMsg | BlobRequestMsg | MessageActionMsg | EditMsg | ConfigureMsg;

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
