import { createClient } from "redis";

/** Deletes every key matching `pattern`: tests leave no residue in a shared Redis. */
export async function deleteKeys(url: string, pattern: string): Promise<number> {
  const client = createClient({ url, RESP: 2 });
  client.on("error", () => {});
  await client.connect();
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await client.sendCommand([
        "SCAN",
        cursor,
        "MATCH",
        pattern,
        "COUNT",
        "1000",
      ]) as [string, string[]];
      cursor = next;
      if (keys.length > 0) deleted += Number(await client.sendCommand(["UNLINK", ...keys]));
    } while (cursor !== "0");
  } finally {
    await client.close();
  }
  return deleted;
}
