import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import type { Destination } from "./destination.ts";

export interface SendResult {
  /** The HTTP status, when an answer came. */
  status: number | null;
  error: string | null;
}

/**
 * POSTs `body` to the checked destination. The connection goes to the address
 * that was checked (the lookup hands back exactly that one, so DNS cannot swap
 * it between check and connect), while the Host header and, for https, SNI and
 * certificate verification use the URL's host name. Redirects are never
 * followed: a 3xx is just a non-2xx answer. The whole attempt, answer headers
 * included, is bounded by `timeoutMs`.
 */
export function sendWebhook(
  destination: Destination,
  headers: Record<string, string>,
  body: string,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<SendResult> {
  const { url, address, family } = destination;
  const lookup: LookupFunction = (_hostname, lookupOptions, callback) => {
    if ((lookupOptions as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(
        null,
        [{ address, family }],
      );
    } else callback(null, address, family);
  };
  const client = url.protocol === "https:" ? https : http;
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const request = client.request({
      method: "POST",
      protocol: url.protocol,
      host: destination.hostname,
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      headers: { ...headers, "content-length": String(new TextEncoder().encode(body).length) },
      lookup,
      ...(url.protocol === "https:" ? { servername: destination.hostname } : {}),
      agent: false,
    }, (response) => {
      const status = response.statusCode ?? null;
      // The answer's body is not needed; stop reading it.
      response.destroy();
      request.destroy();
      finish({ status, error: null });
    });
    const fail = (message: string) => {
      request.destroy();
      finish({ status: null, error: message });
    };
    const timer = setTimeout(
      () => fail(`no answer within ${options.timeoutMs} ms`),
      options.timeoutMs,
    );
    const onAbort = () => fail("aborted");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    request.on("error", (error) => fail(error.message.slice(0, 200)));
    request.end(body);
  });
}
