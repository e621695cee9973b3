import { describe, expect, it } from "vitest";
import {
  batchSummary, batchText, formatCost, formatDuration, formatTokens, plainHint, progressText, relativeTime,
  shortModelName, shortReason, tokenRate,
} from "../src/format";
import shortNames from "./fixtures/short_names.json";
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

  it("a partial cost is a floor, an unknown one a dash", () => {
    // the local model (priced at 0) mixed with an unpriced model: not "$0"
    expect(formatCost(0, true)).toBe("≥ $0");
    expect(formatCost(0.0123, true)).toBe("≥ $0.01");
    expect(formatCost(null, true)).toBe("—");
    expect(formatCost(0)).toBe("$0");
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

  it("says why and when a reply retries", () => {
    const retry = (kind: "rate_limited" | "provider_error" | "timeout" | "connection", waitLeft: number) =>
      progressText({ state: "retrying", elapsed: 2, tokens: 0, streamingFor: 0, retry: { attempt: 2, max_attempts: 4, kind, waitLeft } });
    expect(retry("rate_limited", 8)).toBe("rate limited — retrying in 8 s (attempt 2 of 4)");
    expect(retry("rate_limited", 7.2)).toBe("rate limited — retrying in 8 s (attempt 2 of 4)");
    expect(retry("provider_error", 1)).toBe("provider error — retrying in 1 s (attempt 2 of 4)");
    expect(retry("timeout", 3)).toBe("timed out — retrying in 3 s (attempt 2 of 4)");
    expect(retry("connection", -0.5)).toBe("connection failed — retrying now (attempt 2 of 4)");
  });

  it("batch text", () => {
    expect(batchText({})).toBeNull();
    expect(batchText({ completed: 3, failed: 1, total: 10, active: "row 4", done: false })).toBe(
      "batch 3/10 · 1 failed · now: row 4",
    );
    expect(batchText({ completed: 10, failed: 0, total: 10, active: null, done: true })).toBe("batch 10/10 · done");
  });

  it("the line a finished batch leaves", () => {
    expect(batchSummary({ completed: 8, failed: 0, total: 8, active: null, done: true, elapsed_s: 12.3 })).toBe("8/8 done, 0 failed, 12 s");
    expect(batchSummary({ completed: 7, failed: 1, total: 8, active: null, done: true })).toBe("7/8 done, 1 failed");
  });

  it("hints lose their backticks where no markup can show", () => {
    expect(plainHint("run `%ai_session keys set openai` first")).toBe("run %ai_session keys set openai first");
    expect(shortReason("no models listed: name them with `deployments = [\"NAME\"]`")).toBe("no models listed");
  });

  it("model names and reasons", () => {
    const models: ModelOption[] = [
      { provider: "openai", name: "gpt-4o-mini-2024", short_name: "4o-mini", available: true, reason: null },
    ];
    expect(shortModelName("openai:gpt-4o-mini-2024", models)).toBe("4o-mini");
    expect(shortModelName("ollama:llama3:8b")).toBe("llama3:8b");
    expect(shortReason("no API key for openai: set OPENAI_API_KEY")).toBe("no API key for openai");
  });

  it("shortens unlisted names by the kernel's rule (test/fixtures/short_names.json, written by Python)", () => {
    expect(shortModelName("anthropic:claude-haiku-4-5")).toBe("haiku-4-5");
    for (const [name, short] of Object.entries(shortNames as Record<string, string>)) {
      expect(shortModelName(name), name).toBe(short);
    }
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

  it("keeps a provider that lists no model, with one disabled line saying why", () => {
    const azure: ModelOption = { provider: "azure", name: "", short_name: "", available: false, reason: "no models listed: name them with `deployments = [\"NAME\"]`" };
    const groups = groupModels([...models, azure], "local:smollm2");
    const group = groups.find((g) => g.provider === "azure");
    expect(group?.label).toBe("azure — no models listed");
    expect(group?.options).toEqual([{ value: "", label: "no models listed", title: "no models listed: name them with deployments = [\"NAME\"]", disabled: true }]);
  });

  it("includes the current model even when unlisted", () => {
    const groups = groupModels(models, "ollama:llama3:8b");
    expect(groups[0].options[0]).toMatchObject({ value: "ollama:llama3:8b", label: "llama3:8b" });
  });
});
