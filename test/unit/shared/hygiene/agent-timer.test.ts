import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AgentTimer } from "../../../../shared/hygiene/agent-timer.ts";
import { TimeoutError } from "../../../../shared/timeout.ts";

/** A promise settled from outside, like a lookup that answers when the test says so. */
function pending<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("AgentTimer", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("resolves and rejects like the work when it finishes in time", async () => {
    const timer = new AgentTimer(1000);
    await expect(timer.run(Promise.resolve("done"), "a")).resolves.toBe("done");
    await expect(timer.run(Promise.reject(new Error("lookup failed")), "b")).rejects.toThrow("lookup failed");
    timer.stop();
  });

  it("fails work that runs past the limit with a TimeoutError naming it", async () => {
    const timer = new AgentTimer(1000);
    const run = timer.run(pending<string>().promise, "slow");
    const outcome = run.catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(999);
    await vi.advanceTimersByTimeAsync(1);
    const error = await outcome;
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toBe("agent slow did not finish within 1000 ms");
    timer.stop();
  });

  it("gives each agent the whole limit from its own start, with one timer for all", async () => {
    const timer = new AgentTimer(1000);
    const first = pending<string>();
    const firstRun = timer.run(first.promise, "first");
    await vi.advanceTimersByTimeAsync(600);
    first.resolve("first");
    await expect(firstRun).resolves.toBe("first");
    expect(vi.getTimerCount()).toBe(1);

    // The timer armed for the first agent fires 400 ms into the second: not its time yet.
    let settled = false;
    const secondRun = timer.run(pending<string>().promise, "second").catch((error: unknown) => {
      settled = true;
      return error;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await secondRun).toBeInstanceOf(TimeoutError);
    timer.stop();
  });

  it("does not let work that answers after its time ran out end the next agent's limit", async () => {
    const timer = new AgentTimer(1000);
    const late = pending<string>();
    const lateRun = timer.run(late.promise, "late").catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await lateRun).toBeInstanceOf(TimeoutError);

    const nextRun = timer.run(pending<string>().promise, "next").catch((error: unknown) => error);
    late.resolve("too late");
    await vi.advanceTimersByTimeAsync(999);
    await vi.advanceTimersByTimeAsync(1);
    expect(await nextRun).toBeInstanceOf(TimeoutError);
    timer.stop();
  });

  it("leaves no timer behind once stopped", async () => {
    const timer = new AgentTimer(1000);
    await timer.run(Promise.resolve(1), "a");
    expect(vi.getTimerCount()).toBe(1);
    timer.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it("refuses a limit that is not a positive integer", () => {
    expect(() => new AgentTimer(0)).toThrow(RangeError);
    expect(() => new AgentTimer(1.5)).toThrow(RangeError);
  });
});
