/**
 * OpenAI's error shape for everything under `/openai/`, so the OpenAI SDKs
 * raise their typed errors (AuthenticationError, RateLimitError, ...) and tools
 * show the message. Statuses stay the API's own; the body is
 * `{"error": {message, type, param, code}}` (plus `detail` and `request_id`,
 * which OpenAI clients ignore).
 */
import { z } from "@hono/zod-openapi";
import type { ErrorCode } from "../errors.ts";

export const OPENAI_PREFIX = "/openai/";

export function isOpenAiPath(path: string): boolean {
  return path.startsWith(OPENAI_PREFIX);
}

const types: Record<ErrorCode, string> = {
  bad_request: "invalid_request_error",
  unauthorized: "invalid_request_error",
  forbidden: "permission_error",
  not_found: "invalid_request_error",
  method_not_allowed: "invalid_request_error",
  conflict: "invalid_request_error",
  payload_too_large: "invalid_request_error",
  unsupported_media_type: "invalid_request_error",
  validation_error: "invalid_request_error",
  rate_limited: "rate_limit_error",
  internal_error: "server_error",
  service_unavailable: "server_error",
};

/** OpenAI's own codes where it has one; the API's error code otherwise. */
const codes: Partial<Record<ErrorCode, string>> = {
  unauthorized: "invalid_api_key",
  rate_limited: "rate_limit_exceeded",
};

export interface OpenAiErrorBody {
  error: {
    message: string;
    type: string;
    param: string | null;
    code: string | null;
    detail?: Record<string, unknown>;
  };
  request_id: string;
}

/**
 * The body for an API error. `detail.param` / `detail.code` (set by the
 * OpenAI-compatible routes) name the field and OpenAI's code; else the first
 * validation issue's path is the `param`.
 */
export function openAiErrorBody(
  code: ErrorCode,
  message: string,
  requestId: string,
  detail?: Record<string, unknown>,
): OpenAiErrorBody {
  const { param, code: specific, ...rest } = detail ?? {};
  const issue = (rest.issues as { path?: unknown[] }[] | undefined)?.[0];
  const issuePath = issue?.path?.length ? issue.path.join(".") : null;
  return {
    error: {
      message,
      type: types[code],
      param: typeof param === "string" ? param : issuePath,
      code: typeof specific === "string" ? specific : codes[code] ?? code,
      ...(Object.keys(rest).length > 0 ? { detail: rest } : {}),
    },
    request_id: requestId,
  };
}

export const OpenAiErrorSchema = z.object({
  error: z.object({
    message: z.string().max(1000).openapi({ example: "Incorrect API key provided." }),
    type: z.string().max(64).openapi({ example: "invalid_request_error" }),
    param: z.string().max(256).nullable().openapi({ example: null }),
    code: z.string().max(64).nullable().openapi({ example: "invalid_api_key" }),
    detail: z.record(z.string().max(100), z.unknown()).optional().openapi({
      description: "Gatehouse's detail (e.g. which limit a 429 hit); OpenAI clients ignore it.",
    }),
  }),
  request_id: z.string().max(128).openapi({ example: "0b9f7c1e-2f57-4b43-9d5f-8f4e3f8c6a10" }),
}).openapi("OpenAiError");
