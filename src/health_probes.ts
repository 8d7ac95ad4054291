import { pingDatabase, type Probe } from "./db/ping.ts";
import type { Services } from "./services.ts";

export interface ComponentHealth {
  status: "up" | "down" | "degraded";
  latency_ms: number;
  detail?: string;
}

function fromProbe(probe: Probe, label?: string): ComponentHealth {
  const detail = [label, probe.error].filter(Boolean).join(": ");
  return { status: probe.status, latency_ms: probe.latency_ms, ...(detail ? { detail } : {}) };
}

export function databaseHealth(services: Services): Promise<ComponentHealth> {
  return pingDatabase(services.sql, services.config.READINESS_TIMEOUT_MS).then((p) => fromProbe(p));
}

export async function rateLimiterHealth(services: Services): Promise<ComponentHealth> {
  const health = await services.limits.store.health();
  return {
    status: health.status,
    latency_ms: health.latency_ms,
    // The backend kind only; connection errors can name hosts and stay in the log.
    detail: health.status === "up" ? health.backend : `${health.backend}: unreachable`,
  };
}

/** Providers are up when at least one model is available; no network call is made. */
export function llmHealth(services: Services): ComponentHealth {
  const models = services.models.listWithHealth();
  const available = models.filter((m) => m.health.status !== "unavailable").length;
  const status = available === 0 ? "down" : available < models.length ? "degraded" : "up";
  return { status, latency_ms: 0, detail: `${available}/${models.length} models available` };
}
