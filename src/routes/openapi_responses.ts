import type { z } from "@hono/zod-openapi";
import { type ErrorCode, ErrorSchema, errorStatus } from "../errors.ts";

const intHeader = (description: string, maximum = 2_147_483_647) => ({
  description,
  schema: { type: "integer" as const, format: "int64", minimum: 0, maximum },
});
const textHeader = (description: string, example: string) => ({
  description,
  schema: { type: "string" as const, maxLength: 256, example },
});

/** Headers sent on every response of a rate-limited operation. */
export const rateLimitHeaders = {
  "X-RateLimit-Limit": intHeader("Requests allowed in the most constrained window."),
  "X-RateLimit-Remaining": intHeader("Requests left in that window."),
  "X-RateLimit-Reset": intHeader("Unix time (seconds) when that window resets.", 99_999_999_999),
  "RateLimit-Policy": textHeader(
    "IETF draft policies.",
    '"minute";q=60;w=60, "day";q=1000;w=86400',
  ),
  "RateLimit": textHeader("IETF draft state of the tightest policy.", '"minute";r=12;t=33'),
};

const retryAfter = {
  "Retry-After": {
    description: "Seconds to wait before retrying (at least 1).",
    schema: { type: "integer" as const, format: "int32", minimum: 1, maximum: 86400 },
  },
};

const standardHeaders = {
  "X-Request-Id": textHeader("Request id, also in error bodies.", "0b9f7c1e-2f57-4b43"),
  "Access-Control-Allow-Origin": {
    description: "Echoes the request Origin when it is listed in CORS_ORIGINS; absent otherwise.",
    schema: { type: "string" as const, format: "uri", maxLength: 256 },
  },
};

const descriptions: Partial<Record<ErrorStatus, string>> = {
  400: "Malformed JSON or unparseable parameters.",
  401: "Missing, malformed, expired, revoked or unknown credentials.",
  403: "Authenticated but not allowed (role, scope or disabled account).",
  404: "Not found, or not yours.",
  409: "Conflict with the current state.",
  413: "Request body too large.",
  415: "Body must be application/json.",
  422: "Request failed validation; `detail.issues` lists the problems.",
  429: "Rate limit exceeded; see Retry-After.",
  500: "Unexpected error; the message is generic.",
  503: "A dependency is unavailable.",
};

export type ErrorStatus = (typeof errorStatus)[ErrorCode];

export interface ResponseOptions {
  /** The operation is rate-limited: declare the rate-limit headers. */
  limited?: boolean;
}

const wwwAuthenticate = {
  "WWW-Authenticate": textHeader(
    'RFC 6750 challenge: `Bearer`, with `error="invalid_token"` when a credential was sent.',
    'Bearer error="invalid_token"',
  ),
};

/** The headers an answer with `status` declares. */
export function headersFor(status: number, options: ResponseOptions) {
  return {
    ...standardHeaders,
    ...(options.limited ? rateLimitHeaders : {}),
    ...(status === 429 ? retryAfter : {}),
    ...(status === 401 ? wwwAuthenticate : {}),
  };
}

/** The body of an operation's error answers, and what each status means in it. */
export interface ErrorShape {
  schema: z.ZodType;
  descriptions: Partial<Record<ErrorStatus, string>>;
}

/** The API's own error body (`ErrorSchema`); the OpenAI-compatible routes have theirs. */
export const API_ERRORS: ErrorShape = { schema: ErrorSchema, descriptions };

/** The documented error responses of an operation, all with the `shape`'s body. */
export function errorResponses(
  statuses: readonly ErrorStatus[],
  options: ResponseOptions & { shape?: ErrorShape } = {},
) {
  const { schema, descriptions } = options.shape ?? API_ERRORS;
  return Object.fromEntries(statuses.map((status) => [status, {
    description: descriptions[status] ?? "Error",
    headers: headersFor(status, options),
    content: { "application/json": { schema } },
  }]));
}

/** A JSON success response with the standard headers. */
export function jsonResponse<T extends z.ZodType>(
  schema: T,
  description: string,
  options: { example?: z.output<T> } = {},
) {
  const { example } = options;
  return {
    description,
    headers: headersFor(200, {}),
    content: {
      "application/json": { schema, ...(example === undefined ? {} : { example }) },
    },
  };
}

/** A 204 response with the standard headers. */
export function noContentResponse(description: string) {
  return { description, headers: headersFor(204, {}) };
}

/**
 * A required JSON request body. `example` is what Swagger UI's "Try it out"
 * prefills: it must succeed on a fresh embedded instance, so it leaves optional
 * ids out (tests/openapi_examples_test.ts runs every one).
 */
export function jsonBody<T extends z.ZodType>(
  schema: T,
  example: z.input<T>,
  description?: string,
) {
  return {
    required: true,
    ...(description ? { description } : {}),
    content: { "application/json": { schema, example } },
  };
}
