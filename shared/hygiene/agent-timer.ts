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
  /**
   * When the latest agent's time is up (Date.now()), its name, and how to fail it. After that
   * agent's work settles they are left as they are: failing a settled run does nothing, so no
   * clean-up (and no closure to do it) is needed per agent.
   */
  #deadline = 0;
  #name = "";
  #reject: ((error: TimeoutError) => void) | null = null;

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
      this.#deadline = Date.now() + this.#ms;
      this.#name = name;
      this.#reject = reject;
      this.#timer ??= setTimeout(this.#fire, this.#ms);
      // Work that settles after its time was up settles a run that has already failed: nothing.
      work.then(resolve, reject);
    });
  }

  /** Clears the timer; call when the message is done, so no timer outlives it. */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#reject = null;
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    const reject = this.#reject;
    if (reject === null) return;
    const left = this.#deadline - Date.now();
    if (left > 0) {
      this.#timer = setTimeout(this.#fire, left);
      return;
    }
    // Fired after the latest agent finished in time (between agents), this fails nothing; the
    // next agent arms the timer again.
    this.#reject = null;
    reject(new TimeoutError(`agent ${this.#name} did not finish within ${this.#ms} ms`));
  };
}
