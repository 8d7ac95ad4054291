import { z } from "@hono/zod-openapi";

/** Bounds of a free-form JSON object stored for a user (profile, preferences). */
export interface JsonObjectLimits {
  /** Keys in total, nested objects included. */
  maxKeys: number;
  /** The object itself is depth 1; each nested object or array adds one. */
  maxDepth: number;
  /** UTF-8 bytes of the compact JSON serialisation. */
  maxBytes: number;
  maxKeyLength: number;
}

export const USER_JSON_LIMITS: JsonObjectLimits = {
  maxKeys: 50,
  maxDepth: 3,
  maxBytes: 16 * 1024,
  maxKeyLength: 64,
};

/** What is wrong with `value` under `limits`, one message per broken limit. */
export function jsonObjectProblems(value: unknown, limits: JsonObjectLimits): string[] {
  let keys = 0;
  let depth = 0;
  let longKey = false;
  // Iterative: the depth of untrusted input must never become stack depth.
  const stack: { node: unknown; level: number }[] = [{ node: value, level: 1 }];
  while (stack.length > 0) {
    const { node, level } = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    depth = Math.max(depth, level);
    if (depth > limits.maxDepth) break;
    if (Array.isArray(node)) {
      for (const item of node) stack.push({ node: item, level: level + 1 });
      continue;
    }
    for (const [key, child] of Object.entries(node)) {
      keys += 1;
      if (key.length > limits.maxKeyLength) longKey = true;
      stack.push({ node: child, level: level + 1 });
    }
  }
  const problems: string[] = [];
  if (keys > limits.maxKeys) problems.push(`at most ${limits.maxKeys} keys (found ${keys})`);
  if (depth > limits.maxDepth) problems.push(`at most ${limits.maxDepth} levels deep`);
  if (longKey) problems.push(`keys are at most ${limits.maxKeyLength} characters`);
  if (depth > limits.maxDepth) return problems;
  const bytes = new TextEncoder().encode(JSON.stringify(value)).length;
  if (bytes > limits.maxBytes) problems.push(`at most ${limits.maxBytes} bytes as JSON`);
  return problems;
}

/** A free-form JSON object refused with 422 when it breaks the limits. */
export function boundedJsonObject(description: string, limits = USER_JSON_LIMITS) {
  return z.record(z.string().max(limits.maxKeyLength), z.unknown())
    .superRefine((value, ctx) => {
      for (const message of jsonObjectProblems(value, limits)) {
        ctx.addIssue({ code: "custom", message });
      }
    })
    .openapi({
      description: `${description} Limits: at most ${limits.maxKeys} keys in total (nested ` +
        `included), ${limits.maxDepth} levels deep, keys of at most ${limits.maxKeyLength} ` +
        `characters, ${limits.maxBytes} bytes as JSON.`,
      maxProperties: limits.maxKeys,
      example: { language: "en", timezone: "Europe/Berlin" },
    });
}
