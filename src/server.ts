import type { App } from "./http/env.ts";
import type { Services } from "./services.ts";
import { livenessProbe } from "./http/liveness_probe.ts";

export interface RunningServer {
  port: number;
  hostname: string;
  /** Drain and stop; resolves by the configured deadline even with open streams. */
  shutdown(): Promise<void>;
  finished: Promise<void>;
}

export function startServer(
  app: App,
  services: Services,
  options: { port: number; hostname: string },
): RunningServer {
  const probe = livenessProbe(services, { corsOrigins: services.config.CORS_ORIGINS });
  const server = Deno.serve({
    port: options.port,
    hostname: options.hostname,
    // main.ts logs one structured "listening" line instead.
    onListen: () => {},
  }, (request, info) => probe(request) ?? app.fetch(request, info));

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    shuttingDown ??= (async () => {
      const { lifecycle, log, config } = services;
      // Readiness turns 503 and open streams get their closing event now.
      lifecycle.beginDrain();
      log.info("shutting down", { deadline_ms: config.SHUTDOWN_TIMEOUT_MS });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<"deadline">((r) => {
        timer = setTimeout(() => r("deadline"), config.SHUTDOWN_TIMEOUT_MS);
      });
      const outcome = await Promise.race([
        server.shutdown().then(() => "drained" as const),
        deadline,
      ]);
      clearTimeout(timer);
      if (outcome === "deadline") {
        log.warn("shutdown deadline reached with requests still open");
      }
    })();
    return shuttingDown;
  };
  const addr = server.addr;
  return { port: addr.port, hostname: addr.hostname, shutdown, finished: server.finished };
}
