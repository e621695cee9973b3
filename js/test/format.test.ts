import { describe, expect, it } from "vitest";
import {
  batchText, formatCost, formatDuration, formatTokens, progressText, relativeTime, shortModelName, shortReason,
  tokenRate,
} from "../src/format";
import { groupModels } from "../src/models";
import type { ModelOption } from "../src/protocol";

describe("format", () => {
  it("durations", () => {
    expect(formatDuration(0.42)).toBe("0.4 s");
    expect(formatDuration(12.7)).toBe("12 s");
    expect(formatDuration(125)).toBe("2 min 05 s");
    expect(formatDuration(3720)).toBe("1 h 02 min");
    expect(formatDuration(-1)).toBe("0.0 s");
  });

  it("tokens, rates, costs", () => {
    expect(formatTokens(1)).toBe("1 token");
    expect(formatTokens(1234)).toBe("1,234 tokens");
    expect(tokenRate(0, 3)).toBeNull();
    expect(tokenRate(30, 2)).toBe(15);
    expect(formatCost(null)).toBe("—");
    expect(formatCost(0.000123)).toBe("$0.00012");
    expect(formatCost(1.5)).toBe("$1.50");
  });

  it("relative times", () => {
    expect(relativeTime(100, 101)).toBe("just now");
    expect(relativeTime(0, 30)).toBe("30 s ago");
    expect(relativeTime(0, 300)).toBe("5 min ago");
    expect(relativeTime(0, 7300)).toBe("2 h ago");
  });

  it("progress text", () => {
    expect(progressText({ state: "waiting", elapsed: 1.2, tokens: 0, streamingFor: 0 })).toBe(
      "waiting for first token · 1.2 s",
    );
    expect(progressText({ state: "streaming", elapsed: 3.2, tokens: 120, streamingFor: 3 })).toBe(
      "streaming · 3.2 s · 120 tokens · 40 tok/s",
    );
  });

  it("batch text", () => {
    expect(batchText({})).toBeNull();
    expect(batchText({ completed: 3, failed: 1, total: 10, active: "row 4", done: false })).toBe(
      "batch 3/10 · 1 failed · now: row 4",
    );
    expect(batchText({ completed: 10, failed: 0, total: 10, active: null, done: true })).toBe("batch 10/10 · done");
  });

  it("model names and reasons", () => {
    const models: ModelOption[] = [
      { provider: "openai", name: "gpt-4o-mini-2024", short_name: "4o-mini", available: true, reason: null },
    ];
    expect(shortModelName("openai:gpt-4o-mini-2024", models)).toBe("4o-mini");
    expect(shortModelName("ollama:llama3:8b")).toBe("llama3:8b");
    expect(shortReason("no API key for openai: set OPENAI_API_KEY")).toBe("no API key for openai");
  });
});

describe("groupModels", () => {
  const models: ModelOption[] = [
    { provider: "openai", name: "gpt-4o", short_name: "gpt-4o", available: false, reason: "no API key for openai: set X" },
    { provider: "local", name: "smollm2", short_name: "smollm2", available: true, reason: null },
    { provider: "openai", name: "gpt-4o-mini", short_name: "4o-mini", available: false, reason: "no API key for openai: set X" },
  ];

  it("groups by provider, usable first, unusable disabled with the reason", () => {
    const groups = groupModels(models, "local:smollm2");
    expect(groups.map((g) => g.provider)).toEqual(["local", "openai"]);
    expect(groups[1].label).toBe("openai — no API key for openai");
    expect(groups[1].options.every((o) => o.disabled)).toBe(true);
    expect(groups[1].options[0].title).toContain("set X");
    expect(groups[0].options[0]).toMatchObject({ value: "local:smollm2", label: "smollm2", disabled: false });
  });

  it("includes the current model even when unlisted", () => {
    const groups = groupModels(models, "ollama:llama3:8b");
    expect(groups[0].options[0]).toMatchObject({ value: "ollama:llama3:8b", label: "llama3:8b" });
  });
});
