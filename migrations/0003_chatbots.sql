-- Chatbots: a system prompt, models and which profile fields may reach a model.
create table chatbots (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references users (id) on delete cascade,
  name text not null,
  description text,
  system_prompt text,
  models text[] not null default '{}',
  temperature real,
  context_fields text[] not null default '{}',
  require_consent boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create index chatbots_user_idx on chatbots (user_id, created_at desc);

-- A key bound to a chatbot dies with it.
alter table api_keys
  add constraint api_keys_chatbot_fk foreign key (chatbot_id) references chatbots (id) on delete cascade;
