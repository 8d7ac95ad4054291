-- Webhook endpoints, their events (the outbox) and one delivery row per event and endpoint.
create table webhooks (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  url text not null,
  events text[] not null,
  description text,
  all_users boolean not null default false,
  disabled boolean not null default false,
  disabled_at timestamptz,
  -- Failures before this moment do not count towards auto-disabling (re-enabling starts afresh).
  enabled_at timestamptz not null default now(),
  -- The signing secret, AES-GCM sealed with a key derived from the service secret.
  secret_enc text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index webhooks_user_idx on webhooks (user_id, created_at desc);

-- An event, its body fixed once so every retry sends the same bytes. `dedupe_key`
-- makes "exactly once per subject, policy, period and threshold" (and the key-expiry
-- windows) hold across any number of instances.
create table webhook_events (
  id uuid primary key default gen_random_uuid(),
  type text not null,
  user_id uuid references users (id) on delete cascade,
  body text not null,
  dedupe_key text unique,
  created_at timestamptz not null default now()
);

create index webhook_events_user_idx on webhook_events (user_id);

-- The outbox: every instance claims due rows with FOR UPDATE SKIP LOCKED.
create table webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  event_id uuid not null references webhook_events (id) on delete cascade,
  webhook_id uuid not null references webhooks (id) on delete cascade,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempt integer not null default 0,
  next_attempt_at timestamptz,
  last_attempt_at timestamptz,
  finished_at timestamptz,
  response_status integer,
  last_error text,
  created_at timestamptz not null default now(),
  unique (event_id, webhook_id)
);

create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at)
  where status = 'pending';
create index webhook_deliveries_webhook_idx on webhook_deliveries (webhook_id, created_at desc);
create index webhook_deliveries_finished_idx on webhook_deliveries (webhook_id, finished_at desc)
  where finished_at is not null;
