import assert from "node:assert/strict";
import { Webhook } from "standardwebhooks";
import { type StartOptions, startTestApp, TEST_DATABASE_URL, type TestApp } from "./harness.ts";
import type { TestUser } from "./users.ts";

/** One request as the receiver saw it. */
export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  host: string;
  path: string;
  body: string;
  headers: Record<string, string>;
}

/**
 * A real HTTP receiver on loopback. `answer` picks the status for the n-th
 * request (0-based) of a given webhook-id; 200 by default.
 */
export class Receiver {
  readonly received: Received[] = [];
  answer: (request: Received, attemptOfId: number) => number = () => 200;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (req) => {
        const body = await req.text();
        const headers = Object.fromEntries(req.headers.entries());
        const got: Received = {
          id: headers["webhook-id"] ?? "",
          timestamp: headers["webhook-timestamp"] ?? "",
          signature: headers["webhook-signature"] ?? "",
          host: headers["host"] ?? "",
          path: new URL(req.url).pathname,
          body,
          headers,
        };
        const attemptOfId = this.received.filter((r) => r.id === got.id).length;
        this.received.push(got);
        const status = this.answer(got, attemptOfId);
        // A redirect points elsewhere on this receiver: following it would show up here.
        const headers3xx = status >= 300 && status < 400 ? { location: "/redirected" } : undefined;
        return new Response(null, { status, headers: headers3xx });
      },
    );
  }

  get port(): number {
    return this.#server.addr.port;
  }

  url(path = "/hook"): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Requests whose body has this event type. */
  ofType(type: string): Received[] {
    return this.received.filter((r) => JSON.parse(r.body).type === type);
  }

  close(): Promise<void> {
    return this.#server.shutdown();
  }
}

/** Verifies as a receiver would, with the standardwebhooks package; returns the payload. */
export function verify(
  secret: string,
  got: Received,
): { type: string; timestamp: string; data: Record<string, unknown> } {
  return new Webhook(secret).verify(got.body, {
    "webhook-id": got.id,
    "webhook-timestamp": got.timestamp,
    "webhook-signature": got.signature,
  }) as { type: string; timestamp: string; data: Record<string, unknown> };
}

/** Polls until `check` returns a value (not undefined/false) or the deadline passes. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Settings for apps that deliver to the loopback receiver quickly. */
export function webhookEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    WEBHOOK_ALLOW_HTTP: "true",
    WEBHOOK_ALLOW_PRIVATE: "true",
    WEBHOOK_POLL_INTERVAL_MS: "50",
    WEBHOOK_RETRY_SCHEDULE: "100ms,200ms",
    // Every instance of one test seals and opens endpoint secrets with the same service secret.
    JWT_SECRET: `webhook-test-secret-${crypto.randomUUID()}`,
    ...extra,
  };
}

/**
 * Another instance on the same database: its own services, worker and limiter.
 * On Postgres a separate connection pool in the same schema; embedded (PGlite is
 * one connection) it shares the first instance's database connection.
 */
export function startSecondInstance(
  first: TestApp,
  overrides: Record<string, string>,
  options: StartOptions = {},
): Promise<TestApp> {
  if (TEST_DATABASE_URL) return startTestApp(overrides, { ...options, schema: first.schema });
  return startTestApp(overrides, {
    ...options,
    build: { ...options.build, database: first.services.db },
  });
}

export async function createWebhook(
  h: TestApp,
  user: TestUser | { accessToken: string },
  body: Record<string, unknown>,
): Promise<{ id: string; secret: string; body: Record<string, unknown> }> {
  const res = await h.json("POST", "/v1/webhooks", body, { token: user.accessToken });
  assert.equal(res.status, 201, await res.clone().text());
  const created = await res.json();
  return { id: created.id, secret: created.secret, body: created };
}

export async function deliveries(
  h: TestApp,
  user: TestUser,
  webhookId: string,
): Promise<Record<string, unknown>[]> {
  const res = await h.json("GET", `/v1/webhooks/${webhookId}/deliveries?limit=100`, undefined, {
    token: user.accessToken,
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()).items;
}

/** The stored delivery rows of an endpoint (for polling without spending the API's rate limit). */
export async function storedDeliveries(
  h: TestApp,
  webhookId: string,
): Promise<
  {
    id: string;
    event_id: string;
    status: string;
    attempt: number;
    response_status: number | null;
    last_error: string | null;
  }[]
> {
  return [
    ...(await h.services.sql<
      {
        id: string;
        event_id: string;
        status: string;
        attempt: number;
        response_status: number | null;
        last_error: string | null;
      }[]
    >`
      select id, event_id, status, attempt, response_status, last_error
      from webhook_deliveries where webhook_id = ${webhookId} order by created_at`),
  ];
}

/** Waits until the delivery of `eventId` to `webhookId` has `status`; returns its stored row. */
export function settled(
  h: TestApp,
  webhookId: string,
  eventId: string,
  status: string,
  timeoutMs?: number,
) {
  return waitFor(`${status} delivery of ${eventId}`, async () => {
    const row = (await storedDeliveries(h, webhookId)).find((d) => d.event_id === eventId);
    return row?.status === status ? row : undefined;
  }, timeoutMs);
}
