/**
 * A loopback TCP proxy the tests can cut and restore, to make a real database
 * "go down" and come back without touching the database itself.
 */
export interface TcpProxy {
  port: number;
  /** Drop every open connection and refuse new ones. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export function startTcpProxy(targetHost: string, targetPort: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
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

  const accepting = (async () => {
    for await (const client of listener) {
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
  })();

  const dropAll = () => {
    for (const conn of open) {
      try {
        conn.close();
      } catch { /* already closed */ }
    }
    open.clear();
  };

  return {
    port: (listener.addr as Deno.NetAddr).port,
    cut: () => {
      up = false;
      dropAll();
    },
    restore: () => {
      up = true;
    },
    close: async () => {
      listener.close();
      dropAll();
      await accepting.catch(() => {});
      await Promise.allSettled(pipes);
    },
  };
}
