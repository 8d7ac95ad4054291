/**
 * Makes Upstash-flavoured Lua scripts runnable on stock Redis.
 *
 * Since @upstash/ratelimit 2.1 every script starts with `#!lua flags=allow-key-locking`.
 * Upstash understands that flag; stock Redis 7 rejects the whole script with
 * "ERR Unexpected flag in script shebang" (and Redis < 7 rejects any shebang). So we drop the
 * Upstash-only flags before the script reaches the server.
 *
 * Rewriting the text changes its SHA1, while the library keeps calling EVALSHA with the SHA1
 * of the *original* text (precomputed in its bundle). We therefore remember
 * original-SHA -> server-SHA for every script we rewrite (learned from EVAL / SCRIPT LOAD) and
 * translate EVALSHA / SCRIPT EXISTS accordingly. Before a script has been seen, EVALSHA is
 * forwarded unchanged, Redis answers NOSCRIPT and the library falls back to EVAL, which
 * teaches us the mapping (and caches the rewritten script server-side).
 */
import { createHash } from "node:crypto";

/** Shebang flags that only Upstash accepts. */
const UPSTASH_ONLY_FLAGS = new Set(["allow-key-locking"]);

/** Bound for the SHA map; real workloads have a handful of scripts, this only caps abuse. */
const MAX_TRACKED_SCRIPTS = 1024;

export function sha1Hex(text: string): string {
  return createHash("sha1").update(text, "utf8").digest("hex");
}

/**
 * Removes Upstash-only flags from a leading `#!lua` shebang. If no flag survives the whole
 * shebang goes (maximally portable); the line itself is kept empty so Lua error line numbers
 * still match the original script. Scripts without such flags are returned unchanged.
 */
export function stripUnsupportedShebang(script: string): string {
  if (!script.startsWith("#!lua")) return script;
  const eol = script.indexOf("\n");
  const line = eol === -1 ? script : script.slice(0, eol);
  const rest = eol === -1 ? "" : script.slice(eol);
  const tokens = line.slice("#!lua".length).trim().split(/\s+/).filter(Boolean);

  let changed = false;
  const kept: string[] = [];
  for (const token of tokens) {
    if (!token.startsWith("flags=")) {
      kept.push(token);
      continue;
    }
    const flags = token.slice("flags=".length).split(",").filter(Boolean);
    const supported = flags.filter((f) => !UPSTASH_ONLY_FLAGS.has(f));
    if (supported.length !== flags.length) changed = true;
    if (supported.length > 0) kept.push(`flags=${supported.join(",")}`);
  }
  if (!changed) return script;
  // Only Upstash flags were present: drop the shebang entirely.
  if (kept.length === 0) return rest;
  return `#!lua ${kept.join(" ")}${rest}`;
}

export interface PreparedCommand {
  args: string[];
  /** Translates the server's reply back into what the caller expects (SCRIPT LOAD's SHA). */
  mapReply(reply: unknown): unknown;
}

const identity = (reply: unknown) => reply;

export class LuaScriptCompat {
  /** SHA1 of the text the client sent -> SHA1 of the text the server actually stores. */
  readonly #serverSha = new Map<string, string>();

  /** Rewrites script-related commands; every other command passes through untouched. */
  prepare(args: readonly string[]): PreparedCommand {
    const name = (args[0] ?? "").toLowerCase();
    switch (name) {
      case "eval":
      case "eval_ro":
        return { args: this.#withScript(args, 1), mapReply: identity };
      case "evalsha":
      case "evalsha_ro":
        return { args: this.#withSha(args, 1, 2), mapReply: identity };
      case "script":
        return this.#prepareScriptSubcommand(args);
      default:
        return { args: [...args], mapReply: identity };
    }
  }

  /** Server-side SHA for a client-side SHA (identity for scripts we never rewrote). */
  serverShaFor(sha: string): string {
    return this.#serverSha.get(sha.toLowerCase()) ?? sha;
  }

  #prepareScriptSubcommand(args: readonly string[]): PreparedCommand {
    const sub = (args[1] ?? "").toLowerCase();
    if (sub === "load" && args[2] !== undefined) {
      const original = args[2];
      const rewritten = this.#withScript(args, 2);
      const originalSha = sha1Hex(original);
      const serverSha = this.serverShaFor(originalSha);
      // Callers will EVALSHA with the SHA of the text they sent, so hand that one back.
      return {
        args: rewritten,
        mapReply: (reply) => (reply === serverSha ? originalSha : reply),
      };
    }
    if (sub === "exists") {
      return { args: this.#withSha(args, 2, args.length), mapReply: identity };
    }
    return { args: [...args], mapReply: identity };
  }

  #withScript(args: readonly string[], index: number): string[] {
    const out = [...args];
    const script = out[index];
    if (script === undefined) return out;
    const stripped = stripUnsupportedShebang(script);
    if (stripped !== script) {
      this.#remember(sha1Hex(script), sha1Hex(stripped));
      out[index] = stripped;
    }
    return out;
  }

  #withSha(args: readonly string[], from: number, to: number): string[] {
    const out = [...args];
    for (let i = from; i < Math.min(to, out.length); i++) {
      const sha = out[i];
      if (sha !== undefined) out[i] = this.serverShaFor(sha);
    }
    return out;
  }

  #remember(clientSha: string, serverSha: string): void {
    if (this.#serverSha.has(clientSha)) return;
    if (this.#serverSha.size >= MAX_TRACKED_SCRIPTS) {
      // Forgetting only costs one NOSCRIPT -> EVAL round trip for that script.
      const oldest = this.#serverSha.keys().next().value;
      if (oldest !== undefined) this.#serverSha.delete(oldest);
    }
    this.#serverSha.set(clientSha, serverSha);
  }
}
