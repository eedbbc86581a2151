/** The awaited work did not finish in time. */
export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/**
 * Resolves like `work`, or rejects with {@link TimeoutError} after `ms`. The work itself is not
 * cancelled; callers use this so one slow dependency cannot hold a message past its budget.
 *
 * @example
 * await withTimeout(env.HUB.ingest(delivery), 15_000, "hub did not answer");
 */
export async function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new TimeoutError(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
