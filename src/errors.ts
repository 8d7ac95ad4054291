import { z } from "@hono/zod-openapi";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** The contract's error codes and the status each one maps to. */
export const errorStatus = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_error: 422,
  rate_limited: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof errorStatus;

const defaultMessages: Record<ErrorCode, string> = {
  bad_request: "The request could not be understood.",
  unauthorized: "Missing or invalid credentials.",
  forbidden: "You are not allowed to do this.",
  not_found: "Not found.",
  method_not_allowed: "Method not allowed on this path.",
  conflict: "The request conflicts with the current state.",
  payload_too_large: "The request body is too large.",
  unsupported_media_type: "Send the body as application/json.",
  validation_error: "The request did not match the schema.",
  rate_limited: "Rate limit exceeded.",
  internal_error: "Internal server error.",
  service_unavailable: "A dependency is unavailable; try again shortly.",
};

/**
 * An error meant for the client. `message` is public; `cause` is internal and
 * only ever logged.
 */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly detail?: Record<string, unknown>,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message ?? defaultMessages[code], { cause: options?.cause });
    this.name = "ApiError";
    this.status = errorStatus[code];
    this.headers = options?.headers;
  }
  readonly headers?: Record<string, string>;

  /** 422 `validation_error` on one field, in the same shape as a schema failure. */
  static invalid(path: string | (string | number)[], message: string): ApiError {
    return ApiError.issues([{ path: typeof path === "string" ? [path] : path, message }]);
  }

  /** 422 `validation_error` listing every issue. */
  static issues(issues: readonly { path: PropertyKey[]; message: string }[]): ApiError {
    return new ApiError("validation_error", undefined, {
      issues: issues.map((i) => ({ path: i.path, message: i.message })),
    });
  }

  /** 404 `not_found`: "No such <what>." (missing and not-yours look the same). */
  static notFound(what: string): ApiError {
    return new ApiError("not_found", `No such ${what}.`);
  }
}

export const ErrorSchema = z
  .object({
    error: z.enum(Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]]).openapi({
      example: "validation_error",
    }),
    message: z.string().max(1000).openapi({ example: "The request did not match the schema." }),
    detail: z.record(z.string().max(100), z.unknown()).optional().openapi({
      example: { issues: [{ path: ["email"], message: "Invalid email" }] },
    }),
    request_id: z.string().max(128).openapi({ example: "0b9f7c1e-2f57-4b43-9d5f-8f4e3f8c6a10" }),
  })
  .openapi("Error");

export type ErrorBody = z.infer<typeof ErrorSchema>;

export function errorBody(
  code: ErrorCode,
  requestId: string,
  message?: string,
  detail?: Record<string, unknown>,
): ErrorBody {
  return {
    error: code,
    message: message ?? defaultMessages[code],
    ...(detail ? { detail } : {}),
    request_id: requestId,
  };
}
