/**
 * The Session settings popover: model, Temperature, Max tokens and System prompt of this session, each
 * with the default it inherits next to it (an empty field goes back to that default). Saved to the session
 * (`s.configure(...)` in the kernel, which checks the values like settings) and applied to the next reply.
 * It opens under the chat's header, in the flow (a short chat would clip anything floating over it).
 * Keyboard operable: the button opens it with focus on the first field, Escape or Cancel closes it and
 * gives focus back to the button.
 */

import { button, h, uniqueId } from "./dom";
import { plainHint } from "./format";
import { groupModels } from "./models";
import type { ConfigureMsg, Empty, ModelOption, SessionSettingsData } from "./protocol";
import { checkForm, defaultHint, formValues, type FormValues } from "./settings_form";

export const isSettings = (s: SessionSettingsData | Empty | undefined): s is SessionSettingsData =>
  typeof (s as SessionSettingsData | undefined)?.own === "object";

interface Field {
  input: HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement;
  hint: HTMLElement;
  row: HTMLElement;
}

export class SettingsPopover {
  readonly button: HTMLButtonElement;
  readonly el: HTMLElement;
  private readonly fields: Record<keyof FormValues, Field>;
  private readonly error: HTMLElement;
  private settings: SessionSettingsData | null = null;
  private models: readonly ModelOption[] = [];
  private pending: string | null = null;

  constructor(private readonly save: (msg: ConfigureMsg) => void) {
    this.button = button("⚙", "Session settings", () => (this.el.hidden ? this.open() : this.close()), "ais-quiet ais-settings-button");
    this.button.setAttribute("aria-expanded", "false");
    this.button.title = "Session settings: model, temperature, max tokens, system prompt";
    const model = h("select", { class: "ais-model-select" });
    const temperature = h("input", { attrs: { type: "number", min: "0", max: "2", step: "0.1", inputmode: "decimal" } });
    const maxTokens = h("input", { attrs: { type: "number", min: "1", max: "1000000", step: "1", inputmode: "numeric" } });
    const system = h("textarea", { attrs: { rows: "3", "data-lm-suppress-shortcuts": "true" } });
    this.fields = {
      model: this.field("Model", model),
      temperature: this.field("Temperature", temperature),
      maxTokens: this.field("Max tokens", maxTokens),
      systemPrompt: this.field("System prompt", system),
    };
    this.error = h("div", { class: "ais-settings-error", attrs: { role: "alert" } });
    this.error.hidden = true;
    const actions = h("div", { class: "ais-settings-actions" },
      button("Save", "Save settings", () => this.submit(), "ais-primary"),
      button("Cancel", "Cancel", () => this.close(), "ais-quiet"));
    const titleId = uniqueId("settings-title");
    this.el = h("div", { class: "ais-settings", attrs: { role: "dialog", "aria-labelledby": titleId } },
      h("div", { class: "ais-settings-title", text: "Session settings", attrs: { id: titleId } }),
      ...Object.values(this.fields).map((f) => f.row), this.error, actions);
    this.el.hidden = true;
    this.el.addEventListener("keydown", (e) => {
      e.stopPropagation(); // JupyterLab's notebook shortcuts stay out of the form
      if (e.key === "Escape") {
        e.preventDefault();
        this.close();
      } else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        this.submit();
      }
    });
  }

  private field(label: string, input: Field["input"]): Field {
    const id = uniqueId("setting");
    const hintId = `${id}-hint`;
    input.id = id;
    input.setAttribute("aria-describedby", hintId);
    input.classList.add("ais-settings-input");
    input.addEventListener("input", () => { // a corrected value no longer shows the error
      input.removeAttribute("aria-invalid");
      this.showError("");
    });
    const hint = h("span", { class: "ais-settings-default", attrs: { id: hintId } });
    const row = h("div", { class: "ais-settings-row" }, h("label", { text: label, attrs: { for: id } }), input, hint);
    return { input, hint, row };
  }

  /** New values from the kernel (shown unless the user is editing the open form). */
  update(settings: SessionSettingsData | Empty, models: readonly ModelOption[]): void {
    this.settings = isSettings(settings) ? settings : null;
    this.models = models;
    this.button.disabled = this.settings === null;
    if (this.el.hidden) this.fill();
  }

  set disabled(value: boolean) {
    this.button.disabled = value || this.settings === null;
    if (value) this.close(false);
  }

  /** The kernel answered a save: close on success, else say why (the form stays as typed). */
  onAck(clientId: string, error: string | null): boolean {
    if (clientId !== this.pending) return false;
    this.pending = null;
    if (error) this.showError(error);
    else this.close();
    return true;
  }

  open(): void {
    if (!this.settings) return;
    this.fill();
    this.el.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.fields.model.input.focus();
  }

  close(refocus = true): void {
    if (this.el.hidden) return;
    this.el.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    this.showError("");
    if (refocus) this.button.focus();
  }

  private fill(): void {
    const s = this.settings;
    if (!s) return;
    const values = formValues(s);
    const select = this.fields.model.input as HTMLSelectElement;
    select.replaceChildren(...groupModels(this.models, values.model).map((g) => {
      const group = h("optgroup");
      group.label = g.label;
      for (const o of g.options) {
        const option = h("option", { text: o.label, title: plainHint(o.title) });
        option.value = o.value;
        option.disabled = o.disabled;
        group.appendChild(option);
      }
      return group;
    }));
    select.value = values.model;
    this.fields.temperature.input.value = values.temperature;
    this.fields.maxTokens.input.value = values.maxTokens;
    this.fields.systemPrompt.input.value = values.systemPrompt;
    (this.fields.systemPrompt.input as HTMLTextAreaElement).placeholder = s.defaults.system_prompt ?? "";
    this.fields.model.hint.textContent = defaultHint(s.defaults.model, "none");
    this.fields.temperature.hint.textContent = defaultHint(s.defaults.temperature, "the provider's");
    this.fields.maxTokens.hint.textContent = defaultHint(s.defaults.max_tokens, "the provider's");
    this.fields.systemPrompt.hint.textContent = defaultHint(s.defaults.system_prompt, "none");
  }

  private showError(text: string): void {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  private submit(): void {
    for (const [key, name] of [["temperature", "Temperature"], ["maxTokens", "Max tokens"]] as const) {
      const input = this.fields[key].input as HTMLInputElement;
      if (input.validity?.badInput) { // a number field holding what is not a number reads as empty
        input.setAttribute("aria-invalid", "true");
        input.focus();
        this.showError(`${name} must be a number.`);
        return;
      }
    }
    const checked = checkForm({
      model: this.fields.model.input.value,
      temperature: this.fields.temperature.input.value,
      maxTokens: this.fields.maxTokens.input.value,
      systemPrompt: this.fields.systemPrompt.input.value,
    });
    for (const f of Object.values(this.fields)) f.input.removeAttribute("aria-invalid");
    if (!checked.ok) {
      this.fields[checked.field].input.setAttribute("aria-invalid", "true");
      this.fields[checked.field].input.focus();
      this.showError(checked.error);
      return;
    }
    this.pending = uniqueId("configure");
    this.save({ ...checked.msg, client_id: this.pending });
  }
}
