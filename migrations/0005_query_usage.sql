-- Query and chat: per-call usage accounting and WebSocket tickets.

-- One row per model call. Rows outlive what they point at: erasing a user (or
-- deleting a key or conversation) clears the link, the accounting stays.
create table usage_records (
  id uuid primary key default gen_random_uuid(),
  occurred_at timestamptz not null default now(),
  user_id uuid references users (id) on delete set null,
  api_key_id uuid references api_keys (id) on delete set null,
  model text not null,
  conversation_id uuid references conversations (id) on delete set null,
  input_tokens integer not null check (input_tokens >= 0),
  output_tokens integer not null check (output_tokens >= 0),
  cost_usd numeric(20, 9) not null check (cost_usd >= 0),
  latency_ms integer not null check (latency_ms >= 0),
  status text not null check (status in ('complete', 'incomplete', 'error'))
);

create index usage_records_user_time_idx on usage_records (user_id, occurred_at);
create index usage_records_api_key_idx on usage_records (api_key_id);
create index usage_records_conversation_idx on usage_records (conversation_id);

-- Single-use WebSocket tickets, shared by every instance. Only the hash is
-- stored; `principal` is who the ticket was issued to.
create table ws_tickets (
  ticket_hash text primary key,
  principal jsonb not null,
  expires_at timestamptz not null,
  used_at timestamptz,
  created_at timestamptz not null default now()
);

create index ws_tickets_expires_idx on ws_tickets (expires_at);
