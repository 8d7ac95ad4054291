import { isIP } from "node:net";

/**
 * Whether an IP address is on the public internet. Everything else (loopback,
 * private, shared, link-local, multicast, documentation, benchmarking, reserved,
 * unspecified, and IPv6 forms that embed such IPv4 addresses) is refused as a
 * webhook destination.
 */
export function isPublicAddress(address: string): boolean {
  const kind = isIP(address);
  if (kind === 4) return isPublicV4(parseV4(address));
  if (kind === 6) return isPublicV6(parseV6(address));
  return false;
}

function parseV4(address: string): number[] {
  return address.split(".").map(Number);
}

/** [a.b.c.d] prefix and length in bits. */
const V4_BLOCKED: [number[], number][] = [
  [[0, 0, 0, 0], 8], // "this" network
  [[10, 0, 0, 0], 8], // private
  [[100, 64, 0, 0], 10], // carrier-grade NAT
  [[127, 0, 0, 0], 8], // loopback
  [[169, 254, 0, 0], 16], // link-local (cloud metadata lives here)
  [[172, 16, 0, 0], 12], // private
  [[192, 0, 0, 0], 24], // IETF protocol assignments
  [[192, 0, 2, 0], 24], // documentation
  [[192, 88, 99, 0], 24], // 6to4 relay anycast
  [[192, 168, 0, 0], 16], // private
  [[198, 18, 0, 0], 15], // benchmarking
  [[198, 51, 100, 0], 24], // documentation
  [[203, 0, 113, 0], 24], // documentation
  [[224, 0, 0, 0], 4], // multicast
  [[240, 0, 0, 0], 4], // reserved, broadcast
];

function v4ToInt(bytes: number[]): number {
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}

function isPublicV4(bytes: number[]): boolean {
  const value = v4ToInt(bytes);
  return !V4_BLOCKED.some(([prefix, bits]) => {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return ((value & mask) >>> 0) === ((v4ToInt(prefix) & mask) >>> 0);
  });
}

/** Eight 16-bit groups. */
function parseV6(address: string): number[] {
  let text = address.toLowerCase().split("%")[0]!;
  // A trailing dotted IPv4 part becomes two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const b = parseV4(dotted[1]!);
    text = text.slice(0, -dotted[1]!.length) +
      `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : new Array(8 - headGroups.length - tailGroups.length)
    .fill("0");
  return [...headGroups, ...fill, ...tailGroups].map((g) => parseInt(g, 16));
}

function isPublicV6(g: number[]): boolean {
  const embeddedV4 = () => [g[6]! >> 8, g[6]! & 0xff, g[7]! >> 8, g[7]! & 0xff];
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible): judge the IPv4 address.
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) {
    if (g[5] === 0 && g[6] === 0) return false; // ::, ::1 and the like
    return isPublicV4(embeddedV4());
  }
  // NAT64 well-known prefix 64:ff9b::/96.
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) {
    return isPublicV4(embeddedV4());
  }
  // Global unicast is 2000::/3; the rest (ULA fc00::/7, link-local fe80::/10,
  // multicast ff00::/8, discard 100::/64, ...) is not public.
  if ((g[0]! & 0xe000) !== 0x2000) return false;
  if (g[0] === 0x2001 && g[1]! < 0x0200) return false; // IETF protocol assignments, Teredo
  if (g[0] === 0x2001 && g[1] === 0x0db8) return false; // documentation
  if (g[0] === 0x2002) return false; // 6to4 can embed any IPv4 address
  if (g[0] === 0x3fff && g[1]! < 0x1000) return false; // documentation (3fff::/20)
  return true;
}
