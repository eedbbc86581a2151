import { TimeoutError } from "../timeout.ts";

/**
 * The time limit of agents that run one after another, kept with one timer per message instead of
 * one per agent. Most agents finish without waiting on anything, and arming and clearing a timer
 * (plus a race of promises) for each of them cost more than some of the agents. The timer is armed
 * when the first agent starts; when it fires while a later agent runs, it is re-armed for what is
 * left of that agent's limit, so every agent still gets exactly `ms` from its own start.
 *
 * @example
 * const timer = new AgentTimer(AGENT_TIMEOUT_MS);
 * try {
 *   await timer.run(agent.check(mail, ctx), agent.name);
 * } finally {
 *   timer.stop();
 * }
 */
export class AgentTimer {
  readonly #ms: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the running agent's time is up (Date.now()), and how to fail it; null between agents. */
  #deadline = 0;
  #expire: (() => void) | null = null;

  constructor(ms: number) {
    if (!Number.isSafeInteger(ms) || ms < 1) throw new RangeError(`agent time limit must be a positive integer, got ${String(ms)}`);
    this.#ms = ms;
  }

  /**
   * Resolves like `work`, or rejects with TimeoutError ("agent <name> did not finish within <ms> ms")
   * once `work` has run for the limit. One at a time.
   */
  run<T>(work: Promise<T>, name: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const expire = (): void => reject(new TimeoutError(`agent ${name} did not finish within ${this.#ms} ms`));
      this.#deadline = Date.now() + this.#ms;
      this.#expire = expire;
      this.#timer ??= setTimeout(this.#fire, this.#ms);
      // Work that settles after its time was up must not end the limit of the agent after it.
      const settle = (): void => {
        if (this.#expire === expire) this.#expire = null;
      };
      work.then(
        (value) => {
          settle();
          resolve(value);
        },
        (error: unknown) => {
          settle();
          reject(error);
        },
      );
    });
  }

  /** Clears the timer; call when the message is done, so no timer outlives it. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#expire = null;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const expire = this.#expire;
    if (expire === null) return; // fired between agents: the next one arms it again
    const left = this.#deadline - Date.now();
    if (left > 0) {
      this.#timer = setTimeout(this.#fire, left);
      return;
    }
    this.#expire = null;
    expire();
  };
}
