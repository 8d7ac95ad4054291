/** Every event type an endpoint may subscribe to. */
export const WEBHOOK_EVENT_TYPES = [
  "quota.threshold",
  "api_key.expiring",
  "security.refresh_reuse",
  "security.login_locked",
  "webhook.test",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The Standard Webhooks body: fixed once, sent byte-identical on every attempt. */
export function eventBody(type: WebhookEventType, at: Date, data: Record<string, unknown>): string {
  return JSON.stringify({ type, timestamp: at.toISOString(), data });
}

/**
 * A limit's state as the spend system reports it after settling (or refusing) a
 * call. Amounts are tokens or USD (6 decimals); times are unix seconds.
 */
export interface QuotaSnapshot {
  user_id: string;
  api_key_id: string | null;
  policy: string;
  scope: "user" | "api_key";
  limit: number;
  used: number;
  period_start: number;
  reset: number;
}

export const QUOTA_THRESHOLDS = [50, 80, 100] as const;

/** Thresholds (percent, inclusive) that `used` has reached; exact in micro-units. */
export function thresholdsReached(snapshot: Pick<QuotaSnapshot, "limit" | "used">): number[] {
  const limit = Math.round(snapshot.limit * 1e6);
  const used = Math.round(snapshot.used * 1e6);
  if (limit <= 0) return [];
  return QUOTA_THRESHOLDS.filter((t) => used * 100 >= limit * t);
}
