import type { Context } from "hono";

interface ConnEnv {
  remoteAddr?: { hostname?: string };
}

/**
 * The caller's address: the TCP peer, or with TRUST_PROXY the address the
 * nearest proxy appended to X-Forwarded-For (left-most entries are
 * client-controlled and never trusted).
 */
export function clientIp(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header("x-forwarded-for");
    const last = forwarded?.split(",").map((s) => s.trim()).filter(Boolean).at(-1);
    if (last && last.length <= 64) return last;
  }
  const env = c.env as ConnEnv | undefined;
  return env?.remoteAddr?.hostname ?? "unknown";
}
