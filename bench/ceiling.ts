/**
 * The ceiling: the cheapest HTTP server Deno can run on this machine. Every
 * scenario's requests/s is reported as a ratio of this one's.
 *
 *   PORT=9000 deno run --allow-net --allow-env=PORT,HOSTNAME bench/ceiling.ts
 */
const port = Number(Deno.env.get("PORT") ?? "9000");
const hostname = Deno.env.get("HOSTNAME") ?? "127.0.0.1";

Deno.serve({ port, hostname, onListen: () => {} }, () => new Response("Hello, World!"));
