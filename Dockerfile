# Self-hosted Gatehouse. Pinned Deno (same major/minor the lockfile is written by).
FROM denoland/deno:2.9.6

WORKDIR /app

# Dependencies first, from the lockfile, so code changes reuse this layer.
COPY deno.json deno.lock ./
COPY main.ts seed.ts ./
COPY src/ src/
COPY migrations/ migrations/
RUN deno install --frozen --entrypoint main.ts seed.ts

# The image's `deno` user (uid 1993) owns only the data directory.
RUN mkdir -p /app/.data && chown deno:deno /app/.data
USER deno

ENV PORT=8000 HOSTNAME=0.0.0.0
EXPOSE 8000

# Same permissions as `deno task start`.
CMD ["deno", "run", "--cached-only", "--allow-net", "--allow-env", "--allow-read", "--allow-write=.data", "main.ts"]
