import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { HubEnv } from "../app.ts";
import { hubLog } from "../../../shared/log.ts";

/** An expected API failure: an HTTP status plus a stable machine-readable code. */
export class ApiError extends HTTPException {
  readonly code: string;

  constructor(status: ContentfulStatusCode, code: string, message: string) {
    super(status, { message });
    this.code = code;
  }
}

/** The one error shape every admin route answers with. */
export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

/** app.onError: expected errors keep their status; anything else is a 500 that is logged. */
export function onError(err: Error, c: Context<HubEnv>): Response {
  if (err instanceof ApiError) return c.json(errorBody(err.code, err.message), err.status);
  if (err instanceof HTTPException) return c.json(errorBody(codeFor(err.status), err.message || "request failed"), err.status);
  hubLog(c.env.HUB_ID).error("api_error", { path: new URL(c.req.url).pathname, error: String(err), stack: err.stack });
  return c.json(errorBody("internal", "internal error"), 500);
}

function codeFor(status: number): string {
  if (status === 400) return "bad_request";
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status === 413) return "too_large";
  if (status === 415) return "unsupported_media_type";
  return "error";
}
