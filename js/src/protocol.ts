/**
 * The data the kernel and the browser exchange: synced trait values and custom messages.
 * Names match the Python side (ai_sessions/widgets/chat.py, hub_panel.py) one to one.
 */

export type Role = "user" | "assistant";
export type MessageStatus = "complete" | "streaming" | "stopped" | "failed" | "interrupted";

/** One entry of the `messages` trait (Message.to_dict() in ai_sessions/model.py). */
export interface MessageData {
  id: string;
  seq: number;
  role: Role;
  content: string;
  model: string | null;
  status: MessageStatus;
  usage: { input_tokens: number; output_tokens: number } | null;
  cost: number | null;
  error: string | null;
  error_kind: string | null;
  created_at: number;
  completed_at: number | null;
}

/** One entry of the `switches` trait (ModelSwitch.to_dict()). */
export interface SwitchData {
  from: string;
  to: string;
  message_index: number;
  reason: string | null;
  created_at: number;
}

/** One entry of the `models` trait (ModelInfo). */
export interface ModelOption {
  provider: string;
  name: string;
  short_name: string;
  available: boolean;
  reason: string | null;
}

/** The `progress` trait: empty object when no reply is in flight. */
export interface ProgressData {
  message_id?: string;
  state?: "waiting" | "streaming";
  started_at?: number;
  first_token_at?: number | null;
  tokens?: number;
  model?: string;
}

/** The `batch` trait: the batch contract's dict, or an empty object. */
export interface BatchData {
  completed?: number;
  failed?: number;
  total?: number;
  active?: string | null;
  done?: boolean;
}

/** Synced traits of ChatWidget. */
export interface ChatTraits {
  session_id: string;
  session_name: string;
  model: string;
  session_state: "open" | "closed" | "deleted" | "missing";
  notice: string;
  messages: MessageData[];
  switches: SwitchData[];
  models: ModelOption[];
  progress: ProgressData;
  batch: BatchData;
}

/** Kernel -> browser: appended reply text (at most one every ~50 ms per widget). */
export interface DeltaMsg {
  type: "delta";
  message_id: string;
  seq: number;
  offset: number;
  text: string;
  tokens: number;
}

/** Kernel -> browser: the result of an action a view asked for. */
export interface AckMsg {
  type: "ack";
  client_id: string;
  error: string | null;
}

export type KernelMsg = DeltaMsg | AckMsg;

/** Browser -> kernel actions. Note: they reach the kernel only when its shell is idle. */
export type ViewMsg =
  | { type: "send"; text: string; client_id: string }
  | { type: "stop"; client_id: string }
  | { type: "regenerate"; client_id: string }
  | { type: "clear"; client_id: string }
  | { type: "switch_model"; model: string; client_id: string }
  | { type: "hello" }
  | { type: "refresh_models" }
  | { type: "view"; open: boolean };

/** One row of HubPanel's `sessions` trait. */
export interface SessionRow {
  id: string;
  name: string;
  model: string;
  status: "idle" | "streaming" | "closed" | "stored";
  message_count: number;
  last_activity: number;
  input_tokens: number;
  output_tokens: number;
  cost: number | null;
  live: boolean;
}

/** One row of HubPanel's `jobs` trait: a map still running (live, or at a provider's Batch API). */
export interface JobRow {
  id: string;
  session: string;
  mode: "live" | "batch";
  model: string;
  state: string;
  provider_state: string | null;
  completed: number | null;
  failed: number | null;
  total: number;
  followed: boolean;
}

export interface PanelTraits {
  scope: string;
  sessions: SessionRow[];
  jobs: JobRow[];
}

/** Kernel -> panel: a reply of some session ended. */
export interface FinishedMsg {
  type: "finished";
  session_id: string;
  name: string;
  status: MessageStatus;
}

/** Kernel -> panel: an action failed. */
export interface NoticeMsg {
  type: "notice";
  text: string;
}

export type PanelViewMsg =
  | { type: "stop" | "close" | "delete" | "open"; session_id: string }
  | { type: "refresh" };
