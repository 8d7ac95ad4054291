-- Users, sessions with rotating refresh-token families, and API keys.
create table users (
  id uuid primary key default gen_random_uuid(),
  email text not null,
  email_normalized text not null unique,
  password_hash text not null,
  display_name text,
  first_name text,
  last_name text,
  company text,
  job_title text,
  role text not null default 'user' check (role in ('user', 'moderator', 'admin')),
  tier text not null default 'free',
  disabled boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index users_created_at_idx on users (created_at desc);

-- One session per login; refresh tokens of a session form its family.
create table sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  created_at timestamptz not null default now(),
  last_used_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  revoked_reason text,
  user_agent text,
  ip text
);

create index sessions_user_idx on sessions (user_id, created_at desc);

-- Only hashes are stored. `child_token_enc` is the successor token encrypted
-- with a key derived from this (parent) token, so a concurrent refresh that
-- presents the parent inside the grace window can be handed the same pair.
create table refresh_tokens (
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null references sessions (id) on delete cascade,
  token_hash text not null unique,
  parent_id uuid references refresh_tokens (id) on delete cascade,
  created_at timestamptz not null default now(),
  used_at timestamptz,
  child_id uuid,
  child_token_enc text
);

create index refresh_tokens_session_idx on refresh_tokens (session_id);

create table api_keys (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  name text not null,
  key_hash text not null unique,
  start text not null,
  scopes text[] not null,
  chatbot_id uuid,
  tier text,
  rate_limit_per_minute integer,
  rate_limit_per_day integer,
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  created_at timestamptz not null default now(),
  -- A rolled key's old secret stays valid until previous_expires_at.
  previous_key_hash text unique,
  previous_expires_at timestamptz
);

create index api_keys_user_idx on api_keys (user_id, created_at desc);
