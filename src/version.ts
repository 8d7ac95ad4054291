/** Reported by /health; bumped with releases. */
export const VERSION = "0.1.0";
