/**
 * Typed Gatehouse client: openapi-fetch over the generated `paths` types.
 *
 *   const gh = createGatehouseClient("http://localhost:8000", { token });
 *   const { data, error } = await gh.GET("/v1/auth/whoami");
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema.d.ts";

export type { components, operations, paths } from "./schema.d.ts";

export interface GatehouseClientOptions {
  /** An access token or API key, sent as `Authorization: Bearer`. */
  token?: string;
  fetch?: typeof globalThis.fetch;
}

export function createGatehouseClient(baseUrl: string, options: GatehouseClientOptions = {}) {
  const client = createClient<paths>({ baseUrl, fetch: options.fetch });
  let token = options.token;
  const auth: Middleware = {
    onRequest({ request }) {
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  };
  client.use(auth);
  return Object.assign(client, {
    /** Switch credentials (after login, refresh or minting a key). */
    setToken(next: string | undefined) {
      token = next;
    },
  });
}

export type GatehouseClient = ReturnType<typeof createGatehouseClient>;
