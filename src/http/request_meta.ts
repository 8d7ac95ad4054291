import type { Context } from "hono";
import type { RequestMeta } from "../auth/session_service.ts";
import { clientIp } from "./client_ip.ts";
import type { AppEnv } from "./env.ts";

/** Who sent this request, as sessions and audit events record it. */
export function requestMeta(c: Context<AppEnv>): RequestMeta {
  const { config } = c.get("services");
  return {
    ip: clientIp(c, config.TRUST_PROXY),
    userAgent: c.req.header("user-agent") ?? null,
    requestId: c.get("requestId"),
  };
}
