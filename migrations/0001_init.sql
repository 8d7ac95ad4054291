-- Foundation: the security audit trail every area writes to.
-- Rows outlive the users they mention: erasure anonymises user_id (set null)
-- and scrubs identifying detail, so the table keeps no foreign key to users.
create table audit_events (
  id uuid primary key default gen_random_uuid(),
  occurred_at timestamptz not null default now(),
  action text not null,
  user_id uuid,
  actor_id uuid,
  ip text,
  request_id text,
  detail jsonb not null default '{}'::jsonb
);

create index audit_events_occurred_at_idx on audit_events (occurred_at desc);
create index audit_events_user_idx on audit_events (user_id, occurred_at desc);
create index audit_events_action_idx on audit_events (action, occurred_at desc);
