/**
 * Recipient addresses never reach a log line or the audit log in clear (CONTRIBUTING, "Never"):
 * these keep enough to tell records apart (the first character and the domain) and no more.
 */

/**
 * @example
 * maskAddress("alice@example.com") // "a…@example.com"
 */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf("@");
  if (at < 0) return address;
  return `${address.slice(0, Math.min(1, at))}…${address.slice(at)}`;
}

/**
 * A request path with every segment that holds an address masked (percent-encoded or not).
 *
 * @example
 * maskPath("/api/v1/recipients/alice%40example.com") // "/api/v1/recipients/a…@example.com"
 */
export function maskPath(path: string): string {
  return path
    .split("/")
    .map((segment) => {
      let decoded: string;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        decoded = segment;
      }
      return decoded.includes("@") ? maskAddress(decoded) : segment;
    })
    .join("/");
}
