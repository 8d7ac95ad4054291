-- Spend control: budgets on users and keys, the ledger's usage source and
-- pending calls, and pending assistant messages written before a model call.

alter table users
  add column budget_usd_per_day numeric(20, 6) check (budget_usd_per_day > 0),
  add column budget_usd_per_month numeric(20, 6) check (budget_usd_per_month > 0);

alter table api_keys
  add column budget_usd_per_day numeric(20, 6) check (budget_usd_per_day > 0),
  add column budget_usd_per_month numeric(20, 6) check (budget_usd_per_month > 0);

-- A usage row is written when a call is reserved (status 'pending', the
-- reservation's prompt estimate kept) and settled after it; rows left pending
-- by a crash are closed at the next start.
alter table usage_records
  add column usage_source text not null default 'provider'
    check (usage_source in ('provider', 'estimated')),
  add column prompt_tokens_estimate integer not null default 0
    check (prompt_tokens_estimate >= 0),
  add column pending_conversation_id uuid,
  drop constraint usage_records_status_check,
  add constraint usage_records_status_check
    check (status in ('pending', 'complete', 'incomplete', 'error'));

create index usage_records_pending_idx on usage_records (occurred_at) where status = 'pending';
create index usage_records_key_time_idx on usage_records (api_key_id, occurred_at);

alter table messages
  drop constraint messages_status_check,
  add constraint messages_status_check
    check (status in ('pending', 'complete', 'incomplete', 'error'));

create index messages_pending_idx on messages (created_at) where status = 'pending';
