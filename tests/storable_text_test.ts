import assert from "node:assert/strict";
import { startAppWithMock } from "./support/chat.ts";
import { startTestApp, type TestApp } from "./support/harness.ts";
import { createKey, registerUser } from "./support/users.ts";

const NUL = "\u0000";
const LONE = "\ud800";

async function expectRefused(res: Response, path: (string | number)[], what: string) {
  const text = await res.text();
  assert.equal(res.status, 422, `${what}: ${text}`);
  const body = JSON.parse(text);
  assert.equal(body.error, "validation_error", what);
  const paths = (body.detail.issues as { path: unknown[] }[]).map((i) => JSON.stringify(i.path));
  assert.ok(paths.includes(JSON.stringify(path)), `${what}: ${paths.join(" ")}`);
}

Deno.test("text Postgres cannot store (U+0000, lone surrogate) is a 422 naming the path on every operation", async (t) => {
  const h: TestApp = await startTestApp();
  try {
    const user = await registerUser(h);
    const token = user.accessToken;

    await t.step("register display_name", async () => {
      for (const bad of [`Eve${NUL}`, `Eve${LONE}`]) {
        const res = await h.json("POST", "/v1/auth/register", {
          email: `eve-${crypto.randomUUID().slice(0, 6)}@example.com`,
          password: `quiet-harbor-${crypto.randomUUID().slice(0, 12)}`,
          display_name: bad,
        });
        await expectRefused(res, ["display_name"], "register");
      }
      const count = await h.services.sql`select count(*)::int as n from users`;
      assert.equal(count[0]!.n, 1, "nothing was written");
    });

    await t.step("user name, details, chatbot name and key name", async () => {
      await expectRefused(
        await h.json("PATCH", `/v1/users/${user.id}`, { display_name: `a${NUL}b` }, { token }),
        ["display_name"],
        "update user",
      );
      await expectRefused(
        await h.json("PUT", `/v1/users/${user.id}/details`, {
          profile: { city: `Ber${LONE}lin` },
        }, { token }),
        ["profile", "city"],
        "details value",
      );
      await expectRefused(
        await h.json("PUT", `/v1/users/${user.id}/details`, {
          profile: { [`ci${NUL}ty`]: "Berlin" },
        }, { token }),
        ["profile", `ci${NUL}ty`],
        "details key",
      );
      await expectRefused(
        await h.json("POST", "/v1/chatbots", { name: `bot${NUL}` }, { token }),
        ["name"],
        "chatbot name",
      );
      await expectRefused(
        await h.json("POST", "/v1/api-keys", { name: `key${LONE}` }, { token }),
        ["name"],
        "key name",
      );
    });

    await t.step("prompt and chat message (not streamed)", async () => {
      await expectRefused(
        await h.json("POST", "/v1/query", { prompt: `hi${NUL}`, mode: "speed" }, { token }),
        ["prompt"],
        "query",
      );
      await expectRefused(
        await h.json("POST", "/v1/chat/messages", { message: `hi${LONE}` }, { token }),
        ["message"],
        "chat",
      );
    });

    await t.step("query strings and paths, including parameters no schema names", async () => {
      await expectRefused(
        await h.request("/v1/chatbots?limit=5&note=%00", {
          headers: { authorization: `Bearer ${token}` },
        }),
        ["note"],
        "query string",
      );
      await expectRefused(
        await h.request(`/v1/chatbots/%00`, { headers: { authorization: `Bearer ${token}` } }),
        ["path"],
        "path",
      );
    });

    await t.step("an API key credential gets the same refusal", async () => {
      const { key } = await createKey(h, user);
      await expectRefused(
        await h.json("POST", "/v1/query", { prompt: `x${NUL}`, mode: "speed" }, {
          headers: { "x-api-key": key },
        }),
        ["prompt"],
        "query by key",
      );
    });
  } finally {
    await h.close();
  }
});

Deno.test("a streamed query with U+0000 in the prompt is refused before any model call", async () => {
  const { h, mock, close } = await startAppWithMock({ "mock-a": { reply: "fine" } });
  try {
    const user = await registerUser(h);
    const before = mock.requests.length;
    const res = await h.json("POST", "/v1/query", {
      prompt: `tell me${NUL}`,
      mode: "speed",
      stream: true,
    }, { token: user.accessToken });
    await expectRefused(res, ["prompt"], "streamed query");
    const chat = await h.json("POST", "/v1/chat/messages", {
      message: `tell me${LONE}`,
      stream: true,
    }, { token: user.accessToken });
    await expectRefused(chat, ["message"], "streamed chat");
    assert.equal(mock.requests.length, before, "the model was never called");
    const turns = await h.services.sql`select count(*)::int as n from conversations`;
    assert.equal(turns[0]!.n, 0, "nothing was stored");
    // A clean prompt still reaches the model.
    const ok = await h.json(
      "POST",
      "/v1/query",
      { prompt: "tell me", mode: "speed", stream: true },
      {
        token: user.accessToken,
      },
    );
    assert.equal(ok.status, 200, await ok.clone().text());
    await ok.text();
    assert.equal(mock.requests.length, before + 1);
  } finally {
    await close();
  }
});

Deno.test("a 100,000-deep JSON body is refused with 422, never a 500 or a crash", async () => {
  const h = await startTestApp();
  try {
    const user = await registerUser(h);
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    for (
      const [path, body] of [
        [`/v1/users/${user.id}/details`, `{"profile":{"a":${deep}}}`],
        ["/v1/query", `{"prompt":"hi","mode":"speed","extra":${deep}}`],
        ["/v1/auth/login", deep],
      ] as const
    ) {
      const res = await h.request(path, {
        method: path.endsWith("details") ? "PUT" : "POST",
        headers: {
          authorization: `Bearer ${user.accessToken}`,
          "content-type": "application/json",
        },
        body,
      });
      const text = await res.text();
      assert.ok(res.status === 422 || res.status === 413, `${path}: ${res.status} ${text}`);
      assert.equal(
        JSON.parse(text).error,
        res.status === 422 ? "validation_error" : "payload_too_large",
      );
    }
    // The service still answers.
    const me = await h.json("GET", "/v1/auth/me", undefined, { token: user.accessToken });
    assert.equal(me.status, 200);
    await me.body?.cancel();
  } finally {
    await h.close();
  }
});
