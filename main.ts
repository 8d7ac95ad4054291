import { createApp } from "./src/app.ts";
import { AdminBootstrapError, ensureAdmin } from "./src/auth/admin_bootstrap.ts";
import { scryptParams } from "./src/auth/passwords.ts";
import { type Config, ConfigError, loadConfig, readEnv } from "./src/config.ts";
import { DataDirError } from "./src/data_dir.ts";
import { MigrationError } from "./src/db/migrate.ts";
import { demoBanner, seedDemo } from "./src/seed/demo.ts";
import { startServer } from "./src/server.ts";
import { createServices, type Services } from "./src/services.ts";

/** ADMIN_EMAIL / ADMIN_PASSWORD: create or promote the first admin on every start. */
async function bootstrapAdmin(services: Services, config: Config): Promise<void> {
  const { log, sql } = services;
  if (!config.ADMIN_EMAIL || !config.ADMIN_PASSWORD) return;
  try {
    const result = await ensureAdmin(sql, {
      email: config.ADMIN_EMAIL,
      password: config.ADMIN_PASSWORD,
      scrypt: scryptParams(config),
      actor: "ADMIN_EMAIL",
    });
    log.info("admin account from ADMIN_EMAIL", { outcome: result.outcome, user_id: result.userId });
  } catch (error) {
    await services.close();
    throw error;
  }
}

async function main(): Promise<void> {
  let config: Config;
  let services: Services;
  try {
    config = loadConfig(readEnv());
    services = await createServices(config);
    await bootstrapAdmin(services, config);
  } catch (error) {
    // Start-up problems are the operator's to fix: a clear line, no stack trace.
    if (
      error instanceof ConfigError || error instanceof MigrationError ||
      error instanceof AdminBootstrapError || error instanceof DataDirError
    ) {
      console.error(error.message);
    } else {
      console.error(`Gatehouse failed to start: ${error instanceof Error ? error.message : error}`);
    }
    Deno.exit(1);
  }
  const { log } = services;
  const app = createApp(services);
  const server = startServer(app, services, { port: config.PORT, hostname: config.HOSTNAME });
  const localUrl = `http://${
    server.hostname === "0.0.0.0" ? "localhost" : server.hostname
  }:${server.port}`;
  log.info("listening", {
    url: localUrl,
    docs: "/docs",
    mode: config.mode,
    database: services.db.description,
  });
  // Embedded mode is for trying things: seed demo data into an empty database.
  if (config.SEED_DEMO ?? config.mode === "embedded") {
    const demo = await seedDemo(services);
    if (demo) console.log(demoBanner(demo, config.PUBLIC_URL ?? localUrl));
  }

  const stop = async (signal: string) => {
    log.info("signal received", { signal });
    // A second signal, or a wedged close, must not keep the process alive.
    const hardStop = setTimeout(() => Deno.exit(1), config.SHUTDOWN_TIMEOUT_MS + 5_000);
    await server.shutdown();
    await services.close();
    clearTimeout(hardStop);
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", () => void stop("SIGTERM"));
  Deno.addSignalListener("SIGINT", () => void stop("SIGINT"));
}

if (import.meta.main) await main();
