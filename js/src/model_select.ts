/**
 * The compact model selector: a native <select> (a combobox to assistive technology, fully keyboard
 * operable) showing the short model name; the full name and provider on hover; models grouped by
 * provider; providers that cannot be used are listed disabled with the reason.
 */

import { AUTO, autoOption, autoTitle } from "./auto_option";
import { h } from "./dom";
import { plainHint, providerOf, shortModelName } from "./format";
import { AGENT_PREFIX, agentOptions, groupModels } from "./models";
import type { AgentOption, ModelOption } from "./protocol";

export class ModelSelect {
  readonly el: HTMLSelectElement;
  private models: readonly ModelOption[] = [];
  private current = "";
  private signature = "";

  constructor(onChange: (model: string) => void, onOpen: () => void, onAgent: (name: string) => void = () => {}) {
    this.el = h("select", { class: "ais-model-select", attrs: { "aria-label": "Model" } });
    this.el.addEventListener("focus", onOpen); // keys may have been set since: ask for a fresh list
    this.el.addEventListener("change", () => {
      const value = this.el.value;
      if (value.startsWith(AGENT_PREFIX)) {
        this.reset(); // the selector keeps showing the model; the agent's model arrives with the switch
        onAgent(value.slice(AGENT_PREFIX.length));
      } else if (value && value !== this.current) {
        onChange(value);
      }
    });
  }

  /** Show `models` with `current` selected. */
  update(models: readonly ModelOption[], current: string, agents: readonly AgentOption[] = []): void {
    const signature = JSON.stringify([models, current, agents]);
    this.models = models;
    this.current = current;
    if (signature !== this.signature) {
      this.signature = signature;
      // model="auto": one option before the provider groups (not a provider of its own)
      const auto = models.find((m) => m.provider === AUTO);
      const groups = groupModels(models.filter((m) => m.provider !== AUTO), current === AUTO ? "" : current);
      const autoEl = auto ? [autoOption(auto)].map((o) => {
        const option = h("option", { text: o.label, title: o.title });
        option.value = o.value;
        return option;
      }) : [];
      const presets = agentOptions(agents);
      const agentGroup = presets.length ? [h("optgroup", { attrs: { label: "Agents" } },
        ...presets.map((a) => {
          const option = h("option", { text: a.label, title: a.title });
          option.value = a.value;
          return option;
        }))] : [];
      this.el.replaceChildren(
        ...agentGroup,
        ...autoEl,
        ...groups.map((g) => {
          const group = h("optgroup");
          group.label = g.label;
          if (!g.available) group.title = plainHint(g.reason ?? "unavailable");
          for (const o of g.options) {
            const option = h("option", { text: o.label, title: o.title });
            option.value = o.value;
            option.disabled = o.disabled;
            group.appendChild(option);
          }
          return group;
        }),
      );
    }
    this.reset();
  }

  /** Show the session's model again (after a failed switch). */
  reset(): void {
    this.el.value = this.current;
    if (this.current === AUTO) {
      this.el.title = autoTitle(this.models.find((m) => m.provider === AUTO));
      return;
    }
    const provider = providerOf(this.current);
    const short = shortModelName(this.current, this.models);
    this.el.title = `${this.current ? `${short} — ${provider} (${this.current})` : "no model"}. Change the model for the next replies.`;
  }

  set disabled(value: boolean) {
    this.el.disabled = value;
  }
}
