/** Embedded mode's data directory, with a start-up message that says how to fix access. */

/** The data directory could not be created or written; the message names the fix. */
export class DataDirError extends Error {
  override name = "DataDirError";
}

/** Creates `dir` (recursively); a refusal becomes a DataDirError naming the fix. */
export async function ensureDataDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (error) {
    throw dataDirError(dir, error);
  }
}

/** Explains a refused write under DATA_DIR; other errors pass through unchanged. */
export function dataDirError(dir: string, error: unknown): unknown {
  if (error instanceof Deno.errors.NotCapable) {
    return new DataDirError(
      `DATA_DIR=${dir}: Deno may not write there (the start and seed tasks allow only ` +
        `--allow-write=.data). Run with --allow-write=${dir}, e.g. ` +
        `deno run --allow-net --allow-env --allow-read --allow-write=${dir} main.ts, ` +
        "or keep DATA_DIR under ./.data.",
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new DataDirError(
      `DATA_DIR=${dir}: the operating system refused the write (${(error as Error).message}). ` +
        "Make the directory writable by the user running Gatehouse (in the container image: " +
        "uid 1993, user deno).",
    );
  }
  return error;
}
