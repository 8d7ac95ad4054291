import { Webhook } from "standardwebhooks";
import type { WebhookConfig } from "../config.ts";
import { apiKeysExpiringBefore } from "../db/api_keys.ts";
import { audit } from "../db/audit.ts";
import type { Sql } from "../db/client.ts";
import type { Db } from "../db/tx.ts";
import {
  claimDueDeliveries,
  type ClaimedDelivery,
  recordAttempt,
  releaseAttempt,
} from "../db/webhook_deliveries.ts";
import { insertWebhookEvent, webhookEventExists } from "../db/webhook_events.ts";
import { disableIfFailing, replaceWebhookSecret } from "../db/webhooks.ts";
import type { Logger } from "../log.ts";
import {
  type DestinationPolicy,
  DestinationRefused,
  resolveDestination,
  type Resolver,
  systemResolver,
} from "./destination.ts";
import {
  eventBody,
  type QuotaSnapshot,
  thresholdsReached,
  type WebhookEventType,
} from "./events.ts";
import { SecretSealer } from "./secret.ts";
import { sendWebhook } from "./sender.ts";

export { DestinationRefused, type Resolver } from "./destination.ts";
export { generateWebhookSecret } from "./secret.ts";
export {
  type QuotaSnapshot,
  thresholdsReached,
  WEBHOOK_EVENT_TYPES,
  type WebhookEventType,
} from "./events.ts";

/** An endpoint whose last this-many ended deliveries all failed is disabled. */
export const DISABLE_AFTER_FAILURES = 20;
/** Deliveries one instance claims per round. */
const BATCH = 16;
/** Beyond the attempt's time limit, how long a claim stays leased before another may retry. */
const LEASE_MARGIN_MS = 30_000;
const DAY_MS = 86_400_000;

export interface WebhookOptions {
  resolver?: Resolver;
  /** Secret the sealing key is derived from, and previous ones still opened (rotation). */
  sealingSecret: string;
  previousSealingSecrets?: readonly string[];
}

export interface EmitInput {
  type: WebhookEventType;
  userId: string | null;
  data: Record<string, unknown>;
  /** Unique across instances and restarts: the event is stored at most once per key. */
  dedupeKey?: string;
  /** Only to this endpoint (webhook.test). */
  webhookId?: string;
}

/**
 * Webhooks: events go into a Postgres outbox (with their deliveries, in the
 * caller's transaction when it passes one), and a worker on every instance
 * works the outbox off. Nothing here keeps state that another instance needs.
 */
export class Webhooks {
  readonly policy: DestinationPolicy;
  readonly sealer: SecretSealer;
  readonly #retryMs: number[];
  readonly #emitted = new Set<string>();
  #running = false;
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #sweepTimer: ReturnType<typeof setInterval> | null = null;
  #wakeRequested = false;
  readonly #retryTimers = new Set<ReturnType<typeof setTimeout>>();
  #sweeping: Promise<void> | null = null;
  readonly #inFlight = new AbortController();

  constructor(
    private readonly sql: Sql,
    private readonly config: WebhookConfig,
    private readonly log: Logger,
    options: WebhookOptions,
  ) {
    this.policy = {
      allowHttp: config.WEBHOOK_ALLOW_HTTP,
      allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
      resolver: options.resolver ?? systemResolver,
    };
    this.sealer = new SecretSealer(options.sealingSecret, options.previousSealingSecrets);
    this.#retryMs = config.WEBHOOK_RETRY_SCHEDULE;
  }

  /** Throws DestinationRefused for a URL this service will not send to. */
  async checkDestination(url: string): Promise<void> {
    await resolveDestination(url, this.policy);
  }

  /** Stores an event (deduplicated by key) and queues its deliveries. Returns its id, or null. */
  async emit(db: Db, input: EmitInput): Promise<string | null> {
    const id = crypto.randomUUID();
    const stored = await insertWebhookEvent(db, {
      id,
      type: input.type,
      userId: input.userId,
      body: eventBody(input.type, new Date(), input.data),
      dedupeKey: input.dedupeKey ?? null,
      webhookId: input.webhookId,
    });
    if (!stored) return null;
    this.#nudge();
    return id;
  }

  /** `security.refresh_reuse`, in the transaction that revokes the session's family. */
  async refreshReused(db: Db, reuse: { userId: string; sessionId: string }): Promise<void> {
    await this.emit(db, {
      type: "security.refresh_reuse",
      userId: reuse.userId,
      data: { user_id: reuse.userId, session_id: reuse.sessionId },
    });
  }

  /** `security.login_locked`: call once, when an account's account-wide failure budget ran out. */
  async loginLocked(userId: string): Promise<void> {
    await this.emit(this.sql, {
      type: "security.login_locked",
      userId,
      data: { user_id: userId },
    });
  }

  /**
   * `quota.threshold` for every threshold each snapshot has reached, once per
   * subject, policy, period and threshold: the dedupe key in Postgres decides,
   * however many instances settle at once.
   */
  async quotaSettled(snapshots: readonly QuotaSnapshot[]): Promise<void> {
    for (const snapshot of snapshots) {
      for (const threshold of thresholdsReached(snapshot)) {
        await this.#quotaEvent(snapshot, threshold);
      }
    }
  }

  /** A refusal means the limit is spent: 100 fires if it has not yet. */
  async quotaRefused(snapshot: QuotaSnapshot): Promise<void> {
    await this.#quotaEvent(snapshot, 100);
  }

  async #quotaEvent(s: QuotaSnapshot, threshold: number): Promise<void> {
    const subject = s.scope === "api_key" ? s.api_key_id : s.user_id;
    const key = `quota.threshold:${s.scope}:${subject}:${s.policy}:${s.period_start}:${threshold}`;
    // A process-local memo only saves round trips; Postgres's unique key is the rule.
    if (this.#emitted.has(key)) return;
    if (!(await webhookEventExists(this.sql, key))) {
      await this.emit(this.sql, {
        type: "quota.threshold",
        userId: s.user_id,
        dedupeKey: key,
        data: {
          user_id: s.user_id,
          api_key_id: s.scope === "api_key" ? s.api_key_id : null,
          policy: s.policy,
          scope: s.scope,
          threshold,
          limit: s.limit,
          used: s.used,
          period_start: s.period_start,
          reset: s.reset,
        },
      });
    }
    if (this.#emitted.size > 10_000) this.#emitted.clear();
    this.#emitted.add(key);
  }

  /**
   * `api_key.expiring` 7 days and 1 day before a key expires. Any number of
   * instances may sweep at once: each window's event has its own unique key.
   * A key already inside the 1-day window gets only that window's event.
   */
  async sweepExpiringKeys(): Promise<number> {
    const now = Date.now();
    const keys = await apiKeysExpiringBefore(this.sql, new Date(now + 7 * DAY_MS));
    let emitted = 0;
    for (const key of keys) {
      const window = key.expires_at.getTime() - now <= DAY_MS ? "1d" : "7d";
      const id = await this.emit(this.sql, {
        type: "api_key.expiring",
        userId: key.user_id,
        dedupeKey: `api_key.expiring:${key.id}:${key.expires_at.getTime()}:${window}`,
        data: {
          api_key_id: key.id,
          user_id: key.user_id,
          expires_at: key.expires_at.toISOString(),
        },
      });
      if (id) emitted += 1;
    }
    return emitted;
  }

  /** Starts the delivery worker and the expiry sweep. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#work();
    const sweep = () => {
      if (this.#sweeping) return;
      this.#sweeping = this.sweepExpiringKeys()
        .then(() => {}, (error) => this.log.warn("webhook expiry sweep failed", { error }))
        .finally(() => (this.#sweeping = null));
    };
    this.#sweepTimer = setInterval(sweep, this.config.WEBHOOK_SWEEP_INTERVAL_S * 1000);
    sweep();
  }

  /** Stops claiming, gives back attempts in flight and waits for the loop to end. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    if (this.#sweepTimer !== null) clearInterval(this.#sweepTimer);
    for (const timer of this.#retryTimers) clearTimeout(timer);
    this.#retryTimers.clear();
    this.#inFlight.abort();
    this.#nudge();
    await this.#loop;
    await this.#sweeping;
  }

  async #work(): Promise<void> {
    while (this.#running) {
      let claimed: ClaimedDelivery[] = [];
      try {
        claimed = await claimDueDeliveries(
          this.sql,
          BATCH,
          this.config.WEBHOOK_TIMEOUT_MS + LEASE_MARGIN_MS,
        );
        await Promise.all(claimed.map((delivery) => this.#attempt(delivery)));
      } catch (error) {
        if (this.#running) this.log.warn("webhook delivery round failed", { error });
      }
      if (!this.#running) break;
      if (claimed.length < BATCH) await this.#sleep(this.config.WEBHOOK_POLL_INTERVAL_MS);
    }
  }

  /** Ends the worker's current sleep, or the next one if it is busy. */
  #nudge(): void {
    if (this.#wake) this.#wake();
    else this.#wakeRequested = true;
  }

  #sleep(ms: number): Promise<void> {
    if (this.#wakeRequested || !this.#running) {
      this.#wakeRequested = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = null;
        done();
      };
    });
  }

  async #attempt(delivery: ClaimedDelivery): Promise<void> {
    const opened = await this.sealer.open(delivery.webhook_id, delivery.secret_enc);
    let result: { status: number | null; error: string | null };
    if (!opened) {
      result = {
        status: null,
        error: "the signing secret cannot be opened with this service secret",
      };
    } else {
      if (opened.stale) {
        await replaceWebhookSecret(
          this.sql,
          delivery.webhook_id,
          await this.sealer.seal(delivery.webhook_id, opened.secret),
        );
      }
      result = await this.#send(delivery, opened.secret);
    }
    if (this.#inFlight.signal.aborted && result.error === "aborted") {
      await releaseAttempt(this.sql, delivery.id, delivery.attempt);
      return;
    }
    const delivered = result.status !== null && result.status >= 200 && result.status < 300;
    // N delays mean N + 1 attempts; each delay counts from the end of the attempt before.
    const retryInMs = delivered ? null : this.#retryMs[delivery.attempt - 1] ?? null;
    const status = await recordAttempt(this.sql, {
      id: delivery.id,
      attempt: delivery.attempt,
      delivered,
      responseStatus: result.status,
      error: delivered ? null : result.error ?? `answered ${result.status}`,
      retryInMs,
    });
    if (status === "pending") this.#scheduleWake(retryInMs!);
    if (status === "failed") await this.#disableIfFailing(delivery.webhook_id);
  }

  async #send(delivery: ClaimedDelivery, secret: string) {
    let destination;
    try {
      // Checked again at every attempt: the name may resolve elsewhere now.
      destination = await resolveDestination(delivery.url, this.policy);
    } catch (error) {
      const message = error instanceof DestinationRefused
        ? error.message
        : "destination check failed";
      return { status: null, error: `refused: ${message}` };
    }
    const sentAt = new Date();
    const signature = new Webhook(secret).sign(delivery.event_id, sentAt, delivery.body);
    return await sendWebhook(
      destination,
      {
        "content-type": "application/json",
        "user-agent": "Gatehouse-Webhooks/1",
        "webhook-id": delivery.event_id,
        "webhook-timestamp": String(Math.floor(sentAt.getTime() / 1000)),
        "webhook-signature": signature,
      },
      delivery.body,
      {
        timeoutMs: this.config.WEBHOOK_TIMEOUT_MS,
        signal: this.#inFlight.signal,
      },
    );
  }

  /** A retry due sooner than the next poll is picked up on time. */
  #scheduleWake(ms: number): void {
    if (ms >= this.config.WEBHOOK_POLL_INTERVAL_MS || !this.#running) return;
    const timer = setTimeout(() => {
      this.#retryTimers.delete(timer);
      this.#nudge();
    }, ms);
    this.#retryTimers.add(timer);
  }

  async #disableIfFailing(webhookId: string): Promise<void> {
    await this.sql.begin(async (tx) => {
      const disabled = await disableIfFailing(tx, webhookId, DISABLE_AFTER_FAILURES);
      if (!disabled) return;
      await audit(tx, { ip: null, requestId: null }, "webhook.disabled", {
        userId: disabled.user_id,
        detail: {
          webhook_id: webhookId,
          reason: `last ${DISABLE_AFTER_FAILURES} deliveries failed`,
        },
      });
      this.log.warn("webhook endpoint disabled", { webhook_id: webhookId });
    });
  }
}
