import { isIP } from "node:net";
import { isPublicAddress } from "./address.ts";

/** Names to addresses (A and AAAA). Injectable so tests never need real DNS. */
export type Resolver = (hostname: string) => Promise<string[]>;

export const systemResolver: Resolver = async (hostname) => {
  const lookups = await Promise.allSettled([
    Deno.resolveDns(hostname, "A"),
    Deno.resolveDns(hostname, "AAAA"),
  ]);
  return lookups.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
};

export interface DestinationPolicy {
  allowHttp: boolean;
  allowPrivate: boolean;
  resolver: Resolver;
}

/** A URL the service will not send to; the message is safe to show its owner. */
export class DestinationRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DestinationRefused";
  }
}

/** Where one attempt connects: the address that was checked, never a second lookup. */
export interface Destination {
  url: URL;
  hostname: string;
  address: string;
  family: 4 | 6;
}

/** The checks that need no DNS: scheme, credentials, a host. */
export function checkUrlShape(text: string, policy: Pick<DestinationPolicy, "allowHttp">): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DestinationRefused("must be an absolute URL");
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && policy.allowHttp)) {
    throw new DestinationRefused(
      policy.allowHttp ? "must be an http or https URL" : "must be an https URL",
    );
  }
  if (url.username || url.password) throw new DestinationRefused("must not carry credentials");
  if (!url.hostname) throw new DestinationRefused("must name a host");
  return url;
}

/**
 * Resolves the URL's host and checks every address it resolves to: one
 * non-public address refuses the URL (unless private destinations are allowed),
 * so a name cannot pass by also resolving to a public address.
 */
export async function resolveDestination(
  text: string,
  policy: DestinationPolicy,
): Promise<Destination> {
  const url = checkUrlShape(text, policy);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  let addresses: string[];
  if (isIP(hostname)) {
    addresses = [hostname];
  } else {
    try {
      addresses = (await policy.resolver(hostname)).filter((a) => isIP(a) !== 0);
    } catch {
      addresses = [];
    }
    if (addresses.length === 0) throw new DestinationRefused(`host ${hostname} does not resolve`);
  }
  if (!policy.allowPrivate) {
    const blocked = addresses.find((a) => !isPublicAddress(a));
    if (blocked !== undefined) {
      throw new DestinationRefused(
        `host ${hostname} resolves to a non-public address (loopback, private, link-local or reserved)`,
      );
    }
  }
  const address = addresses[0]!;
  return { url, hostname, address, family: isIP(address) === 6 ? 6 : 4 };
}
