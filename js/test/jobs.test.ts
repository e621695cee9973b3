import { describe, expect, it } from "vitest";
import { jobProgressText, jobStateText } from "../src/jobs";
import type { JobRow } from "../src/protocol";

const row = (changes: Partial<JobRow>): JobRow => ({
  id: "0123456789", session: "reviews", mode: "batch", model: "openai:gpt-4o-mini", state: "running",
  provider_state: "in_progress", completed: 120, failed: 3, total: 10000, followed: true, ...changes,
});

describe("job rows", () => {
  it("say what the provider says", () => {
    expect(jobStateText(row({}))).toBe("running at the provider (in_progress)");
    expect(jobStateText(row({ provider_state: null }))).toBe("running at the provider");
    expect(jobStateText(row({ mode: "live" }))).toBe("running");
    expect(jobStateText(row({ state: "collecting" }))).toBe("storing results");
  });

  it("count what is done, or what was submitted", () => {
    expect(jobProgressText(row({}))).toBe("120/10,000 done · 3 failed");
    expect(jobProgressText(row({ failed: 0 }))).toBe("120/10,000 done");
    expect(jobProgressText(row({ completed: null, failed: null }))).toBe("10,000 submitted");
  });
});
