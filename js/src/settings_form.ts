/**
 * The Session settings popover's form: what its fields show (the session's own value, else empty with the
 * inherited default next to it) and what saving sends. Checks mirror the kernel's (checks.py), so most
 * mistakes are said at once; the kernel checks again. Pure functions.
 */

import type { ConfigureMsg, SessionSettingsData } from "./protocol";

export interface FormValues {
  model: string;
  temperature: string;
  maxTokens: string;
  systemPrompt: string;
}

export type Checked =
  | { ok: true; msg: Omit<ConfigureMsg, "client_id"> }
  | { ok: false; field: keyof FormValues; error: string };

/** The form's values for `settings`: the session's own, or empty where it inherits. */
export function formValues(settings: SessionSettingsData): FormValues {
  const own = settings.own;
  return {
    model: own.model,
    temperature: own.temperature === null ? "" : String(own.temperature),
    maxTokens: own.max_tokens === null ? "" : String(own.max_tokens),
    systemPrompt: own.system_prompt ?? "",
  };
}

/** The text next to a field: what applies when the field is left empty. */
export function defaultHint(value: string | number | null, none: string): string {
  if (value === null || value === "") return `Default: ${none}`;
  const text = String(value);
  return `Default: ${text.length > 60 ? `${text.slice(0, 59)}…` : text}`;
}

/** Check the form; on success, the configure message to send (empty fields: back to the default). */
export function checkForm(values: FormValues): Checked {
  const t = values.temperature.trim();
  let temperature: number | null = null;
  if (t !== "") {
    temperature = Number(t);
    if (!Number.isFinite(temperature) || temperature < 0 || temperature > 2) {
      return { ok: false, field: "temperature", error: "Temperature must be a number between 0 and 2 (lower is more focused)." };
    }
  }
  const m = values.maxTokens.trim();
  let maxTokens: number | null = null;
  if (m !== "") {
    maxTokens = Number(m);
    if (!Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > 1_000_000) {
      return { ok: false, field: "maxTokens", error: "Max tokens must be a whole number between 1 and 1,000,000." };
    }
  }
  if (!values.model.includes(":")) return { ok: false, field: "model", error: "Choose a model." };
  return {
    ok: true,
    msg: { type: "configure", model: values.model, temperature, max_tokens: maxTokens, system_prompt: values.systemPrompt },
  };
}
