# Self-hosted Gatehouse. Pinned Deno (same major/minor the lockfile is written by).
FROM denoland/deno:2.9.6

WORKDIR /app

# Dependencies first, from the lockfile alone, so code changes reuse this layer.
COPY deno.json deno.lock ./
RUN deno install --frozen

# Then the sources; this install only resolves the local graph (the packages are cached).
COPY main.ts seed.ts ./
COPY src/ src/
COPY migrations/ migrations/
COPY scripts/admin.ts scripts/admin.ts
RUN deno install --frozen --entrypoint main.ts seed.ts scripts/admin.ts

# The image's `deno` user (uid 1993, gid 1993) owns only the data directory; a volume
# mounted on /app/.data must be writable by uid 1993.
RUN mkdir -p /app/.data && chown deno:deno /app/.data
USER deno

ENV PORT=8000 HOSTNAME=0.0.0.0
EXPOSE 8000

# Same permissions as `deno task start`.
CMD ["deno", "run", "--cached-only", "--allow-net", "--allow-env", "--allow-read", "--allow-write=.data", "main.ts"]
