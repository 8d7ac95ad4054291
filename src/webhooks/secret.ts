/**
 * Endpoint signing secrets: `whsec_` + base64 of 32 random bytes, shown once.
 * The database keeps them AES-GCM sealed with a key derived (HKDF) from the
 * service secret and bound to the endpoint id, so a database dump alone
 * signs nothing and a sealed value moved to another row does not open.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const INFO = encoder.encode("gatehouse-webhook-secret");

export function generateWebhookSecret(): string {
  return `whsec_${toBase64(crypto.getRandomValues(new Uint8Array(32)))}`;
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

async function keyFrom(material: string): Promise<CryptoKey> {
  const raw = await crypto.subtle.importKey("raw", encoder.encode(material), "HKDF", false, [
    "deriveKey",
  ]);
  return await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: INFO },
    raw,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** Seals with the current service secret; opens with it or a previous one (rotation). */
export class SecretSealer {
  readonly #keys: Promise<CryptoKey[]>;

  constructor(current: string, previous: readonly string[] = []) {
    this.#keys = Promise.all([current, ...previous].map(keyFrom));
  }

  async seal(webhookId: string, secret: string): Promise<string> {
    const [key] = await this.#keys;
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: encoder.encode(webhookId) },
      key!,
      encoder.encode(secret),
    );
    return `v1.${toBase64(iv)}.${toBase64(new Uint8Array(sealed))}`;
  }

  /** The secret, and whether it was sealed with a previous key (then re-seal it). */
  async open(
    webhookId: string,
    sealed: string,
  ): Promise<{ secret: string; stale: boolean } | null> {
    const [version, iv, data] = sealed.split(".");
    if (version !== "v1" || !iv || !data) return null;
    const keys = await this.#keys;
    for (const [index, key] of keys.entries()) {
      try {
        const plain = await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: fromBase64(iv), additionalData: encoder.encode(webhookId) },
          key,
          fromBase64(data),
        );
        return { secret: decoder.decode(plain), stale: index > 0 };
      } catch {
        // try the next key
      }
    }
    return null;
  }
}
