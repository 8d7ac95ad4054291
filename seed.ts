/** `deno task seed`: demo user, chatbot and API key in an empty database. */
import { ConfigError, loadConfig, readEnv } from "./src/config.ts";
import { demoBanner, seedDemo } from "./src/seed/demo.ts";
import { createServices } from "./src/services.ts";

try {
  const config = loadConfig(readEnv());
  const services = await createServices(config);
  try {
    const demo = await seedDemo(services);
    if (demo) console.log(demoBanner(demo, config.PUBLIC_URL ?? `http://localhost:${config.PORT}`));
    else console.log("Users already exist; nothing seeded.");
  } finally {
    await services.close();
  }
} catch (error) {
  console.error(
    error instanceof ConfigError
      ? error.message
      : `seed failed: ${error instanceof Error ? error.message : error}`,
  );
  Deno.exit(1);
}
