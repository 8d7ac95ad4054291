import { isDatabaseUnavailable } from "../db/unavailable.ts";
import { ApiError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** The contract's `{error, message}` (+ `detail`); unexpected failures stay generic and are logged. */
export function errorEvent(
  error: unknown,
  log: Logger,
): { error: string; message: string; detail?: Record<string, unknown> } {
  if (error instanceof ApiError) {
    return {
      error: error.code,
      message: error.message,
      ...(error.detail ? { detail: error.detail } : {}),
    };
  }
  if (isDatabaseUnavailable(error)) {
    log.warn("database unavailable", { error });
    return {
      error: "service_unavailable",
      message: "The database is unavailable; try again shortly.",
    };
  }
  log.error("stream failed", { error });
  return { error: "internal_error", message: "Internal server error." };
}
