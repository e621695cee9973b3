/** Grouping the model list for the compact selector. Pure. */

import { plainHint, shortReason } from "./format";
import type { AgentOption, ModelOption } from "./protocol";

/** What the selector says of a model that cannot call tools (the session's tools are not offered to it). */
export const NO_TOOLS = "can't call tools";
/** Option values of agents: `@agent:NAME` (a model's value is `provider:model`: a provider name has no `@`). */
export const AGENT_PREFIX = "@agent:";

/** The selector's options for the settings' agents, above the models. */
export function agentOptions(agents: readonly AgentOption[]): { value: string; label: string; title: string }[] {
  return agents.map((a) => ({
    value: `${AGENT_PREFIX}${a.name}`,
    label: a.name,
    title: [a.description, a.model ? `model ${a.model}` : "", a.tools.length ? `tools: ${a.tools.join(", ")}` : ""]
      .filter(Boolean).join(" · ") || `agent ${a.name}`,
  }));
}

export interface ModelGroup {
  provider: string;
  available: boolean;
  /** Shown as the group label: the provider, and why it cannot be used. */
  label: string;
  reason: string | null;
  options: { value: string; label: string; title: string; disabled: boolean }[];
}

/**
 * Models grouped by provider, usable providers first (in their given order), each model labelled
 * with its short name. `current` is included even if the list does not offer it. A provider that lists
 * no model (an entry with an empty name, e.g. Azure before its deployments are named) shows as a group
 * with one disabled line saying so, and why.
 */
export function groupModels(models: readonly ModelOption[], current: string): ModelGroup[] {
  const groups = new Map<string, ModelGroup>();
  const all = [...models];
  if (current && !all.some((m) => `${m.provider}:${m.name}` === current)) {
    const colon = current.indexOf(":");
    const provider = colon >= 0 ? current.slice(0, colon) : "";
    const name = colon >= 0 ? current.slice(colon + 1) : current;
    all.unshift({ provider, name, short_name: name, available: true, reason: null });
  }
  for (const m of all) {
    let group = groups.get(m.provider);
    if (!group) {
      group = {
        provider: m.provider,
        available: m.available,
        reason: m.reason,
        label: m.available ? providerLabel(m.provider) : `${providerLabel(m.provider)} — ${shortReason(m.reason)}`,
        options: [],
      };
      groups.set(m.provider, group);
    }
    if (!m.name) {
      group.options.push({ value: "", label: "no models listed", title: plainHint(m.reason ?? "no models listed"), disabled: true });
      continue;
    }
    const value = `${m.provider}:${m.name}`;
    const title = m.available ? `${m.name} (${m.provider})` : `${m.name} (${m.provider}): ${plainHint(m.reason ?? "unavailable")}`;
    const noTools = m.tools === false ? ` · ${NO_TOOLS}` : "";
    group.options.push({ value, label: `${m.short_name || m.name}${noTools}`, title: `${title}${noTools}`, disabled: !m.available && value !== current });
  }
  const list = [...groups.values()];
  return [...list.filter((g) => g.available), ...list.filter((g) => !g.available)];
}

/** A provider's name as a group label: models written as Python functions (`python:NAME`) are under "Python". */
export function providerLabel(provider: string): string {
  return provider === "python" ? "Python" : provider;
}
