/**
 * Input Postgres cannot store, found before anything reaches a model or the
 * database: `text`/`jsonb` refuse U+0000, and UTF-8 has no encoding for an
 * unpaired UTF-16 surrogate. One check for every operation (HTTP bodies,
 * query strings, paths and WebSocket messages), so no schema can forget it.
 */

/** Nesting deeper than any body of the contract; deeper input is refused. */
export const MAX_INPUT_DEPTH = 32;

export interface InputIssue {
  path: (string | number)[];
  message: string;
}

export const UNSTORABLE_TEXT_MESSAGE =
  "Text must not contain U+0000 or an unpaired UTF-16 surrogate.";

/** Whether Postgres can store `text` as it is. */
export function isStorableText(text: string): boolean {
  return !text.includes("\u0000") && text.isWellFormed();
}

/**
 * Every string (object keys included) that Postgres cannot store, by path, and
 * a single issue when the value nests deeper than `maxDepth`. Iterative: a
 * 100,000-deep array costs a loop, not the call stack.
 */
export function unstorableInputIssues(
  value: unknown,
  basePath: (string | number)[] = [],
  maxDepth = MAX_INPUT_DEPTH,
): InputIssue[] {
  const issues: InputIssue[] = [];
  const stack: { node: unknown; path: (string | number)[]; depth: number }[] = [
    { node: value, path: basePath, depth: 0 },
  ];
  while (stack.length > 0) {
    const { node, path, depth } = stack.pop()!;
    if (typeof node === "string") {
      if (!isStorableText(node)) issues.push({ path, message: UNSTORABLE_TEXT_MESSAGE });
      continue;
    }
    if (node === null || typeof node !== "object") continue;
    if (depth >= maxDepth) {
      return [{ path: basePath, message: `Input is nested more than ${maxDepth} levels deep.` }];
    }
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) {
        stack.push({ node: node[i], path: [...path, i], depth: depth + 1 });
      }
      continue;
    }
    for (const [key, child] of Object.entries(node)) {
      if (!isStorableText(key)) {
        issues.push({ path: [...path, key], message: UNSTORABLE_TEXT_MESSAGE });
      }
      stack.push({ node: child, path: [...path, key], depth: depth + 1 });
    }
  }
  return issues;
}
