import { ApiError } from "../api/errors.ts";

/**
 * An expected failure of a quarantine or feedback action (no such message, already released,
 * deleted, cannot be parsed, …): the API answers with its status, code and message, through the
 * hub's one error handler.
 */
export class QuarantineError extends ApiError {
  override name = "QuarantineError";
}
