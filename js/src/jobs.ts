/** Text of the hub panel's job rows (DOM-free, so vitest can check it). */

import type { JobRow } from "./protocol";

const STATES: Record<string, string> = {
  submitting: "submitting",
  running: "running",
  cancelling: "cancelling",
  collecting: "storing results",
  interrupted: "interrupted",
};

/** `running at the provider (in_progress)`, `running`, `interrupted` ... */
export function jobStateText(row: JobRow): string {
  const state = STATES[row.state] ?? row.state;
  if (row.mode === "batch" && row.state === "running") {
    return row.provider_state ? `running at the provider (${row.provider_state})` : "running at the provider";
  }
  return state;
}

/** `120/10,000 done · 3 failed`, or `10,000 submitted` while the provider reports no counts. */
export function jobProgressText(row: JobRow): string {
  const total = row.total.toLocaleString("en-US");
  if (row.completed === null || row.completed === undefined) return `${total} submitted`;
  const parts = [`${row.completed.toLocaleString("en-US")}/${total} done`];
  if (row.failed) parts.push(`${row.failed.toLocaleString("en-US")} failed`);
  return parts.join(" · ");
}
