/**
 * A relay request that cannot be served as it is: the HTTP status, a stable machine-readable code
 * and a message for the application's operator. The edge answers it as
 * `{"error": {"code", "message"}}` with the status.
 */
export class RelayError extends Error {
  override name = "RelayError";
  readonly status: number;
  readonly code: string;
  /** Seconds a client should wait before retrying (429, 503), as `Retry-After`. */
  readonly retryAfter: number | undefined;

  constructor(status: number, code: string, message: string, retryAfter?: number) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** 400: the request or the message is malformed or breaks a rule the client can fix. */
export const invalid = (code: string, message: string): RelayError => new RelayError(400, code, message);
