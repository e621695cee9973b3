// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { autoOption, autoTitle } from "../src/auto_option";
import { ModelSelect } from "../src/model_select";
import type { ModelOption } from "../src/protocol";

const AUTO: ModelOption = { provider: "auto", name: "auto", short_name: "Auto", available: true, reason: null,
  candidates: ["openai:gpt-4o-mini", "local:smollm2"] };
const MODELS: ModelOption[] = [AUTO,
  { provider: "openai", name: "gpt-4o-mini", short_name: "gpt-4o-mini", available: true, reason: null },
  { provider: "local", name: "smollm2", short_name: "smollm2", available: true, reason: null }];

describe("the Auto entry", () => {
  it("names its candidates in the tooltip", () => {
    expect(autoOption(AUTO)).toEqual({ value: "auto", label: "Auto",
      title: "Auto — picks a model for each reply from the candidates in settings: openai:gpt-4o-mini, local:smollm2" });
    expect(autoTitle(AUTO)).toBe("Auto — a model is picked for each reply from openai:gpt-4o-mini, local:smollm2. " +
      "Change the model for the next replies.");
  });

  it("is the selector's first option, not a provider group, and can be the current model", () => {
    const chosen: string[] = [];
    const select = new ModelSelect((m) => chosen.push(m), () => undefined);
    select.update(MODELS, "auto");
    const first = select.el.children[0] as HTMLOptionElement;
    expect(first.tagName).toBe("OPTION");
    expect([first.value, first.textContent]).toEqual(["auto", "Auto"]);
    expect(Array.from(select.el.querySelectorAll("optgroup")).map((g) => g.label)).toEqual(["openai", "local"]);
    expect(select.el.value).toBe("auto");
    expect(select.el.title).toContain("from openai:gpt-4o-mini, local:smollm2");
    select.update(MODELS, "openai:gpt-4o-mini");
    select.el.value = "auto";
    select.el.dispatchEvent(new Event("change"));
    expect(chosen).toEqual(["auto"]);
  });
});
