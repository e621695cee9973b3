import { afterEach, describe, expect, it, vi } from "vitest";
import { flushFrame, requestFrame, type FrameWork } from "../src/frame";

afterEach(() => {
  vi.restoreAllMocks();
  flushFrame(); // leave nothing queued for the next test
});

function work(log: string[], name: string, cost = 0): FrameWork {
  return {
    write: () => {
      log.push(`write ${name}`);
      now += cost;
    },
    measure: () => log.push(`measure ${name}`),
  };
}

let now = 0;

describe("frame", () => {
  it("runs every view's writes before any layout read, once however often it was requested", () => {
    const log: string[] = [];
    const a = work(log, "a");
    const b = work(log, "b");
    requestFrame(a);
    requestFrame(b);
    requestFrame(a);
    flushFrame();
    expect(log).toEqual(["write a", "write b", "measure a", "measure b"]);
    flushFrame();
    expect(log).toHaveLength(4);
  });

  it("leaves the views past its budget to the next frame, where they go first", () => {
    vi.spyOn(performance, "now").mockImplementation(() => now);
    const log: string[] = [];
    const [a, b, c] = [work(log, "a", 3), work(log, "b", 3), work(log, "c", 3)];
    requestFrame(a);
    requestFrame(b);
    requestFrame(c);
    flushFrame();
    expect(log).toEqual(["write a", "write b", "measure a", "measure b"]);
    log.length = 0;
    requestFrame(a);
    flushFrame();
    expect(log).toEqual(["write c", "write a", "measure c", "measure a"]);
  });
});
