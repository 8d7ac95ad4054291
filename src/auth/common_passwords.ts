/**
 * Common-password blocklist backed by the zxcvbn-ts "common" language pack
 * (`dictionary["passwords-common"]`, ~49k entries, all lower-case, most
 * frequent first).
 *
 * Why lazy: the package decompresses its dictionaries at module evaluation
 * (~50–100 ms, several MB of strings). We import it on first use and keep only
 * the entries long enough to pass the length rule in a Set; everything else is
 * garbage-collected.
 */

/** Entries shorter than this are already refused by the length rule. */
const MIN_RELEVANT_LENGTH = 8;

let loading: Promise<ReadonlySet<string>> | null = null;

/** Case-folding used both for the list and for candidates. */
export function foldPassword(password: string): string {
  return password.normalize("NFC").toLowerCase();
}

async function load(): Promise<ReadonlySet<string>> {
  // Static specifier so `deno compile`/bundlers still see the dependency.
  const { dictionary } = await import("@zxcvbn-ts/language-common");
  const list: readonly string[] = dictionary["passwords-common"];
  const set = new Set<string>();
  for (const entry of list) {
    const folded = foldPassword(entry);
    if (codePointLength(folded) >= MIN_RELEVANT_LENGTH) set.add(folded);
  }
  if (set.size === 0) {
    // A silently empty blocklist would disable the check; fail loudly instead.
    throw new Error("common password list is empty (@zxcvbn-ts/language-common changed shape?)");
  }
  return set;
}

/**
 * Loads the list once (concurrent callers share the same promise). Call at
 * startup to warm it; a failed load is retried on the next call.
 */
export function loadCommonPasswords(): Promise<ReadonlySet<string>> {
  if (!loading) {
    loading = load().catch((err) => {
      loading = null;
      throw err;
    });
  }
  return loading;
}

/** True when the password (case-insensitively, after NFC) is on the list. */
export async function isCommonPassword(password: string): Promise<boolean> {
  const set = await loadCommonPasswords();
  return set.has(foldPassword(password));
}

function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
