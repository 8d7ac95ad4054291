/**
 * `deno task seed`: demo user, chatbot and API key in an empty database.
 * `deno task seed --reset-demo`: a new demo password and key (the old ones stop working).
 */
import { ConfigError, loadConfig, readEnv } from "./src/config.ts";
import { DataDirError } from "./src/data_dir.ts";
import { createLogger } from "./src/log.ts";
import { demoBanner, RESET_DEMO_HINT, resetDemo, seedDemo } from "./src/seed/demo.ts";
import { createServices } from "./src/services.ts";

const USAGE = "usage: deno task seed [--reset-demo]";
const args = Deno.args.filter((a) => a !== "--");
const reset = args.includes("--reset-demo");
if (args.some((a) => a !== "--reset-demo")) {
  console.error(USAGE);
  Deno.exit(2);
}

try {
  const config = loadConfig(readEnv());
  // The result is the output: only warnings and errors of the start-up go to the log.
  const log = createLogger(config.LOG_LEVEL === "debug" ? "debug" : "warn");
  const services = await createServices(config, { log });
  try {
    const baseUrl = config.PUBLIC_URL ?? `http://localhost:${config.PORT}`;
    const demo = reset ? await resetDemo(services) : await seedDemo(services);
    if (demo) console.log(demoBanner(demo, baseUrl));
    else {
      console.log(
        `Users already exist; nothing seeded. For new demo credentials: ${RESET_DEMO_HINT}`,
      );
    }
  } finally {
    await services.close();
  }
} catch (error) {
  console.error(
    error instanceof ConfigError || error instanceof DataDirError
      ? error.message
      : `seed failed: ${error instanceof Error ? error.message : error}`,
  );
  Deno.exit(1);
}
