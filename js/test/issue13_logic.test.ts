/** Pure logic of issue 13: details, day lines, attachment rules, the settings form, branch text. */
import { describe, expect, it } from "vitest";
import { formatSize, kindOf, refusal, setRefusal } from "../src/attachment_rules";
import { branchText } from "../src/branch_switch";
import { dayLabel, daySeparators, detailsLine } from "../src/details";
import { checkForm, defaultHint, formValues } from "../src/settings_form";

describe("details", () => {
  it("summarise a reply in one line", () => {
    const line = detailsLine({ id: "a", seq: 1, role: "assistant", content: "", model: "m:x", status: "complete",
      usage: { input_tokens: 1200, output_tokens: 34 }, cost: 0, error: null, error_kind: null, created_at: 0,
      completed_at: null, timing: { elapsed: 3, first_token_s: 1.25 } });
    expect(line).toBe("first token 1.3 s · 1,200 in / 34 out · $0");
  });

  it("label days and place separators only across days", () => {
    const now = new Date(2025, 2, 10, 12).getTime() / 1000;
    expect(dayLabel(now - 60, now)).toBe("Today");
    expect(dayLabel(now - 86400, now)).toBe("Yesterday");
    expect(dayLabel(now - 5 * 86400, now)).toContain("2025");
    expect(daySeparators([{ created_at: now }, { created_at: now + 1 }], now).size).toBe(0);
    expect([...daySeparators([{ created_at: now - 86400 }, { created_at: now }, { created_at: now + 1 }], now)])
      .toEqual([[0, "Yesterday"], [1, "Today"]]);
  });
});

describe("attachment rules", () => {
  const accepts = { images: true, documents: false };
  it("know what a file is sent as", () => {
    expect(kindOf({ name: "a.png", type: "image/png" })).toBe("image");
    expect(kindOf({ name: "a.py", type: "" })).toBe("text");
    expect(kindOf({ name: "paper.pdf", type: "" })).toBe("pdf");
    expect(kindOf({ name: "a.zip", type: "application/zip" })).toBe("other");
  });
  it("refuse what the model cannot take, by name, and sets over the limits", () => {
    expect(refusal({ name: "p.pdf", type: "application/pdf", size: 1 }, accepts, "gpt")).toContain("gpt cannot read PDF files");
    expect(refusal({ name: "a.png", type: "image/png", size: 1 }, { images: false, documents: false }, "m")).toContain("m cannot see images");
    expect(refusal({ name: "a.zip", type: "application/zip", size: 1 }, accepts, "m")).toContain("no model can read a.zip");
    expect(refusal({ name: "a.txt", type: "text/plain", size: 1 }, accepts, "m")).toBeNull();
    const limits = { max_total_bytes: 10, max_image_bytes: 5, max_count: 1 };
    expect(refusal({ name: "a.png", type: "image/png", size: 6 }, accepts, "m", limits)).toContain("over the 6 bytes".replace("6", "5"));
    expect(setRefusal([{ name: "a", type: "", size: 1 }, { name: "b", type: "", size: 1 }], limits)).toContain("at most 1");
    expect(setRefusal([{ name: "a", type: "", size: 11 }], limits)).toContain("over the 10 bytes");
    expect(formatSize(2048)).toBe("2 KB");
    expect(formatSize(3.5 * 1024 * 1024)).toBe("3.5 MB");
  });
});

describe("settings form", () => {
  it("shows the session's own values and the defaults, and checks what is saved", () => {
    const values = formValues({ own: { model: "a:b", temperature: null, max_tokens: 10, system_prompt: null },
      defaults: { model: "c:d", temperature: 0.7, max_tokens: null, system_prompt: null },
      accepts: { images: false, documents: false }, limits: { max_total_bytes: 1, max_image_bytes: 1, max_count: 1 } });
    expect(values).toEqual({ model: "a:b", temperature: "", maxTokens: "10", systemPrompt: "" });
    expect(defaultHint(0.7, "x")).toBe("Default: 0.7");
    expect(defaultHint(null, "the provider's")).toBe("Default: the provider's");
    expect(checkForm({ ...values, temperature: "2.5" })).toMatchObject({ ok: false, field: "temperature" });
    expect(checkForm({ ...values, maxTokens: "1.5" })).toMatchObject({ ok: false, field: "maxTokens" });
    expect(checkForm(values)).toEqual({ ok: true, msg: { type: "configure", model: "a:b", temperature: null, max_tokens: 10, system_prompt: "" } });
  });
});

it("branch text is 1-based", () => {
  expect(branchText({ index: 0, count: 3, previous: null, next: "x" })).toBe("1/3");
});

it("lists models written as Python functions under Python", async () => {
  const { groupModels } = await import("../src/models");
  const [group] = groupModels([{ provider: "python", name: "echo", short_name: "echo", available: true, reason: null }], "python:echo");
  expect(group.label).toBe("Python");
  expect(group.options[0].value).toBe("python:echo");
});
