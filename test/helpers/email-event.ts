import type { IncomingEmail } from "../../workers/edge/index.ts";
import { bytesOf } from "./mail.ts";

/** A fake Email Routing event, recording what the handler did with it. */
export interface MockEmail {
  message: IncomingEmail;
  /** The text passed to setReject, or null if the handler did not reject. */
  rejected(): string | null;
}

/**
 * Builds the `message` argument of `email()`, as Email Routing would pass it. `rawSize` can be
 * overridden to test the size gate without allocating 25 MiB.
 */
export function mockEmail(options: { from: string; to: string; raw: string | Uint8Array; rawSize?: number }): MockEmail {
  const bytes = bytesOf(options.raw);
  let rejected: string | null = null;
  const message: IncomingEmail = {
    from: options.from,
    to: options.to,
    rawSize: options.rawSize ?? bytes.byteLength,
    raw: new ReadableStream<Uint8Array>({
      start(controller) {
        // Deliver in chunks, as a network stream would.
        for (let i = 0; i < bytes.byteLength; i += 64 * 1024) controller.enqueue(bytes.slice(i, i + 64 * 1024));
        controller.close();
      },
    }),
    setReject(reason: string) {
      rejected = reason;
    },
  };
  return { message, rejected: () => rejected };
}
