import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";
import { ApiError } from "../errors.ts";
import {
  type InputIssue,
  isStorableText,
  UNSTORABLE_TEXT_MESSAGE,
  unstorableInputIssues,
} from "../storable_text.ts";

/**
 * Refuses, with the contract's 422, any operation whose path, query string or
 * JSON body holds text Postgres cannot store or nests deeper than any body of
 * the contract: before routing reaches a handler, so no model call or write
 * ever sees it. Bodies that are not JSON are left to the route's validator
 * (400/415); the parsed text stays cached for it.
 */
export function refuseUnstorableInput(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const issues: InputIssue[] = [];
    if (!isStorableText(c.req.path)) {
      issues.push({ path: ["path"], message: UNSTORABLE_TEXT_MESSAGE });
    }
    const url = c.req.url;
    if (url.includes("?")) {
      for (const [name, value] of new URL(url).searchParams) {
        if (!isStorableText(name) || !isStorableText(value)) {
          issues.push({ path: [name], message: UNSTORABLE_TEXT_MESSAGE });
        }
      }
    }
    const method = c.req.method;
    if (
      (method === "POST" || method === "PUT" || method === "PATCH") && c.req.raw.body !== null
    ) {
      const text = await c.req.text();
      let body: unknown = undefined;
      try {
        body = text === "" ? undefined : JSON.parse(text);
      } catch {
        // Malformed JSON is the validator's 400.
      }
      issues.push(...unstorableInputIssues(body));
    }
    if (issues.length > 0) throw new ApiError("validation_error", undefined, { issues });
    await next();
  };
}
