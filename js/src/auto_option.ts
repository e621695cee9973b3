/** The model selector's Auto entry (model="auto": a model picked per reply from the settings' candidates). Pure. */

import type { ModelOption } from "./protocol";

export const AUTO = "auto";

/** The selector option of the Auto entry: its candidates, in order of preference, in the tooltip. */
export function autoOption(entry: ModelOption): { value: string; label: string; title: string } {
  const candidates = entry.candidates ?? [];
  const from = candidates.length ? `: ${candidates.join(", ")}` : "";
  return { value: AUTO, label: entry.short_name || "Auto", title: `Auto — picks a model for each reply from the candidates in settings${from}` };
}

/** The selector's tooltip while the session is on Auto. */
export function autoTitle(entry: ModelOption | undefined): string {
  const candidates = entry?.candidates ?? [];
  return `Auto — a model is picked for each reply${candidates.length ? ` from ${candidates.join(", ")}` : ""}. ` +
    "Change the model for the next replies.";
}
