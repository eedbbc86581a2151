/** Builders for test messages (runtime-agnostic: used in workerd and in Node). */

const encoder = new TextEncoder();

export interface MessageOptions {
  from?: string;
  to?: string;
  subject?: string;
  body?: string;
  headers?: Record<string, string>;
}

let counter = 0;

/** A small, valid RFC 5322 message with CRLF line ends and a unique Message-ID. */
export function buildMessage(options: MessageOptions = {}): string {
  counter++;
  const headers: Record<string, string> = {
    From: options.from ?? "Sender <sender@example.net>",
    To: options.to ?? "alice@example.com",
    Subject: options.subject ?? `Test message ${counter}`,
    Date: "Sat, 21 Nov 2026 09:00:00 +0000",
    "Message-ID": `<test-${counter}-${Math.random().toString(36).slice(2)}@example.net>`,
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=utf-8",
    ...options.headers,
  };
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\r\n");
  return `${head}\r\n\r\n${options.body ?? "Hello from the test suite.\r\n"}`;
}

export function bytesOf(message: string | Uint8Array): Uint8Array {
  return typeof message === "string" ? encoder.encode(message) : message;
}
