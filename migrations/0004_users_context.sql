-- User details, consent, and the conversation history the context builder reads.
-- Everything here belongs to a user and dies with them (on delete cascade), so
-- erasing a user leaves no row that names them.

-- Free-form data a chatbot may send to a model; one row per user, replaced whole.
create table user_details (
  user_id uuid primary key references users (id) on delete cascade,
  profile jsonb not null default '{}'::jsonb,
  preferences jsonb not null default '{}'::jsonb,
  profile_data text,
  updated_at timestamptz not null default now()
);

-- A chatbot asked for profile fields the user has not granted yet.
create table consent_requests (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  chatbot_id uuid not null references chatbots (id) on delete cascade,
  fields text[] not null,
  purpose text not null,
  status text not null default 'pending' check (status in ('pending', 'approved', 'denied')),
  created_at timestamptz not null default now(),
  responded_at timestamptz
);

-- At most one open request per user and chatbot: later contexts reuse it.
create unique index consent_requests_one_pending_idx
  on consent_requests (user_id, chatbot_id) where status = 'pending';
create index consent_requests_chatbot_idx on consent_requests (chatbot_id);

-- A grant: these fields may reach this chatbot's models until revoked.
create table consents (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  chatbot_id uuid not null references chatbots (id) on delete cascade,
  consent_request_id uuid references consent_requests (id) on delete set null,
  fields text[] not null,
  token_hash text not null unique,
  granted_at timestamptz not null default now(),
  revoked_at timestamptz
);

create index consents_user_idx on consents (user_id, granted_at desc);
create index consents_active_idx on consents (user_id, chatbot_id) where revoked_at is null;
create index consents_chatbot_idx on consents (chatbot_id);

-- Conversations outlive a deleted chatbot (the link is cleared), never their user.
create table conversations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  chatbot_id uuid references chatbots (id) on delete set null,
  title text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index conversations_user_idx on conversations (user_id, updated_at desc);
create index conversations_chatbot_idx on conversations (chatbot_id);

-- `seq` orders messages: several written in one transaction share created_at.
create table messages (
  id uuid primary key default gen_random_uuid(),
  seq bigint generated always as identity,
  conversation_id uuid not null references conversations (id) on delete cascade,
  role text not null check (role in ('user', 'assistant', 'system')),
  content text not null,
  model text,
  status text not null default 'complete' check (status in ('complete', 'incomplete', 'error')),
  metadata jsonb,
  created_at timestamptz not null default now()
);

create index messages_conversation_idx on messages (conversation_id, seq desc);
