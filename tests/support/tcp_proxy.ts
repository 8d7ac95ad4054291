/**
 * A loopback TCP proxy the tests can cut and restore, to make a real database
 * "go down" and come back without touching the database itself.
 */
export interface TcpProxy {
  port: number;
  /**
   * Drop every open connection. New ones are accepted and closed at once
   * (default, like a proxy whose backend is gone) or, with "refuse", refused
   * at the port (like a stopped Postgres: ECONNREFUSED).
   */
  cut(mode?: "close" | "refuse"): void;
  restore(): void;
  close(): Promise<void>;
}

export function startTcpProxy(targetHost: string, targetPort: number): TcpProxy {
  let listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  let listening = true;
  const open = new Set<Deno.Conn>();
  let up = true;
  const pipes: Promise<void>[] = [];

  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    try {
      await from.readable.pipeTo(to.writable);
    } catch {
      // A cut connection ends its pipes with errors; that is the point.
    } finally {
      for (const conn of [from, to]) {
        if (open.delete(conn)) {
          try {
            conn.close();
          } catch { /* already closed */ }
        }
      }
    }
  };

  const accept = async (from: Deno.Listener) => {
    for await (const client of from) {
      if (!up) {
        client.close();
        continue;
      }
      try {
        const upstream = await Deno.connect({ hostname: targetHost, port: targetPort });
        open.add(client);
        open.add(upstream);
        pipes.push(pipe(client, upstream), pipe(upstream, client));
      } catch {
        client.close();
      }
    }
  };
  const accepting = [accept(listener).catch(() => {})];

  const dropAll = () => {
    for (const conn of open) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
    open.clear();
  };

  return {
    port,
    cut: (mode = "close") => {
      up = false;
      if (mode === "refuse" && listening) {
        listener.close();
        listening = false;
      }
      dropAll();
    },
    restore: () => {
      up = true;
      if (!listening) {
        listener = Deno.listen({ hostname: "127.0.0.1", port });
        listening = true;
        accepting.push(accept(listener).catch(() => {}));
      }
    },
    close: async () => {
      if (listening) listener.close();
      listening = false;
      dropAll();
      await Promise.allSettled(accepting);
      await Promise.allSettled(pipes);
    },
  };
}
