/**
 * Seals a successor refresh token with a key derived from its parent token.
 * Only whoever holds the parent can unseal it, which is exactly the client
 * that raced itself with two refreshes inside the grace window. The database
 * alone never yields a usable token.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function keyFrom(parentToken: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey(
    "raw",
    encoder.encode(parentToken),
    "HKDF",
    false,
    [
      "deriveKey",
    ],
  );
  return await crypto.subtle.deriveKey(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: new Uint8Array(0),
      info: encoder.encode("gatehouse-refresh-child"),
    },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

function toBase64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export async function sealChildToken(parentToken: string, childToken: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv },
    await keyFrom(parentToken),
    encoder.encode(childToken),
  );
  return `${toBase64(iv)}.${toBase64(new Uint8Array(sealed))}`;
}

export async function unsealChildToken(
  parentToken: string,
  sealed: string,
): Promise<string | null> {
  const [iv, data] = sealed.split(".");
  if (!iv || !data) return null;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64(iv) },
      await keyFrom(parentToken),
      fromBase64(data),
    );
    return decoder.decode(plain);
  } catch {
    return null;
  }
}
