/**
 * Abort/timeout helpers. We avoid `AbortSignal.timeout()` because its timer
 * cannot be cancelled: every finished call would leave a live timer behind
 * (and trip Deno's test sanitizers). These helpers always clean up.
 */

/** A DOMException shaped like the one `AbortSignal.timeout()` produces. */
export function timeoutReason(ms: number): DOMException {
  return new DOMException(`timed out after ${ms} ms`, "TimeoutError");
}

/** True when the signal was aborted by a deadline rather than by a caller. */
export function isTimeoutReason(reason: unknown): boolean {
  return reason instanceof DOMException && reason.name === "TimeoutError";
}

/** The reason to reject with: the signal's own reason, or a standard AbortError. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

/**
 * Resolves after `ms`, or rejects with the signal's reason as soon as it aborts.
 * The timer and the listener are released on both paths.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export interface Deadline {
  /** Aborts when the parent aborts (parent's reason) or after `ms` (a TimeoutError). */
  readonly signal: AbortSignal;
  /** Cancels the timer; call it in `finally`. */
  dispose(): void;
}

/** Combines a caller signal with a per-call deadline (AbortSignal.any + a clearable timer). */
export function withDeadline(parent: AbortSignal, ms: number): Deadline {
  const timer = new AbortController();
  const handle = setTimeout(() => timer.abort(timeoutReason(ms)), ms);
  return {
    signal: AbortSignal.any([parent, timer.signal]),
    dispose: () => clearTimeout(handle),
  };
}
