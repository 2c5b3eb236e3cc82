-- Parlor's schema on PostgreSQL: the same tables as SQLite's 0001_init.sql, in native types.
-- Ids are `uuid` (v7, so they sort by time); times are `timestamptz`, written already
-- truncated to microseconds by parlor_core::clock, so a value read back compares equal to the
-- one a keyset cursor carries.
-- JSON a client gave is `json`, never `jsonb`: `json` keeps the text as written, so object
-- keys come back in the client's order (jsonb would sort them).
-- Keyword search: each searchable text is stored normalized (parlor_core::search::normalize,
-- done in Rust so both backends index the same words) and a generated `tsvector` of it with
-- the `simple` configuration (no stemming, no stop words) is indexed with GIN.

-- Tenants. `visitor_seq` numbers the contacts made for anonymous visitors ("Visitor 7");
-- it is bumped with UPDATE ... RETURNING, whose row lock keeps numbers unique across
-- instances.
CREATE TABLE organizations (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    visitor_seq bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL
);

-- API keys, stored as the SHA-256 of the key; looked up by that digest on every request.
CREATE TABLE api_keys (
    id         uuid PRIMARY KEY,
    org_id     uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name       text NOT NULL,
    prefix     text NOT NULL,
    key_hash   text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX api_keys_org ON api_keys(org_id, created_at);

CREATE TABLE chatbots (
    id               uuid PRIMARY KEY,
    org_id           uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name             text NOT NULL,
    instructions     text NOT NULL,
    welcome_message  text NOT NULL,
    fallback_message text NOT NULL,
    model            text,
    temperature      double precision NOT NULL,
    history_messages bigint NOT NULL,
    webhook_url      text,
    webhook_secret   text,
    api_web_chat_id  uuid NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX chatbots_org ON chatbots(org_id, created_at, id);

-- A web chat is the channel (and inbox) contacts reach a chatbot through.
CREATE TABLE web_chats (
    id                 uuid PRIMARY KEY,
    org_id             uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    chatbot_id         uuid NOT NULL REFERENCES chatbots(id) ON DELETE CASCADE,
    name               text NOT NULL,
    access_type        text NOT NULL,
    welcome_message    text NOT NULL,
    allowed_origins    json NOT NULL,  -- array of origins
    is_active          boolean NOT NULL,
    enable_file_upload boolean NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX web_chats_org ON web_chats(org_id, created_at, id);
CREATE INDEX web_chats_chatbot ON web_chats(chatbot_id);

CREATE TABLE contacts (
    id             uuid PRIMARY KEY,
    org_id         uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name           text NOT NULL,
    avatar         text,
    email          text,
    phone_number   text,
    source_id      text,
    query_metadata json,  -- object as the client gave it
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX contacts_org ON contacts(org_id, created_at, id);

-- Files attached to messages: uploads (storage_path set) or external URLs.
CREATE TABLE attachments (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    kind         text NOT NULL,
    filename     text NOT NULL,
    file         text NOT NULL,
    storage_path text,
    content_type text,
    size         bigint,
    created_at   timestamptz NOT NULL
);

-- Conversations keep their derived state current (title, last message, counters) so a list
-- page is one indexed query. Message creation locks the row (SELECT ... FOR UPDATE), so the
-- counters stay right when several instances add messages at once.
CREATE TABLE conversations (
    id                 uuid PRIMARY KEY,
    org_id             uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    web_chat_id        uuid NOT NULL REFERENCES web_chats(id) ON DELETE CASCADE,
    chatbot_id         uuid,
    contact_id         uuid REFERENCES contacts(id) ON DELETE SET NULL,
    title              text NOT NULL,
    title_set          boolean NOT NULL,  -- true once the title was given explicitly
    status             text NOT NULL,
    auto_reply_enabled boolean NOT NULL,
    replying           bigint NOT NULL DEFAULT 0,  -- bot replies being generated now
    last_read_at       timestamptz,
    last_message_id    uuid,
    last_message_at    timestamptz,
    message_count      bigint NOT NULL DEFAULT 0,
    unread_count       bigint NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    -- The title as indexed: empty until a title is set or taken from the first message.
    title_search       text NOT NULL DEFAULT '',
    title_tsv          tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, title_search)) STORED
);
CREATE INDEX conversations_org ON conversations(org_id, created_at, id);
CREATE INDEX conversations_inbox ON conversations(web_chat_id, created_at, id);
CREATE INDEX conversations_contact ON conversations(contact_id);
CREATE INDEX conversations_title_tsv ON conversations USING gin (title_tsv);

CREATE TABLE messages (
    id              uuid PRIMARY KEY,
    org_id          uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    conversation_id uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    kind            text NOT NULL,
    sender_type     text NOT NULL,
    sender          json,           -- {id, name, avatar} as it was when sent
    content         text NOT NULL,
    content_payload json,
    query_metadata  json,
    attachments     json NOT NULL,  -- array of Attachment
    canvas          json,
    feedback        text,
    citations       json NOT NULL,
    citation_nodes  json NOT NULL,
    metadata        json NOT NULL,
    created_at      timestamptz NOT NULL,
    -- The content as indexed (normalized), and its words.
    content_search  text NOT NULL DEFAULT '',
    content_tsv     tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, content_search)) STORED
);
CREATE INDEX messages_conversation ON messages(conversation_id, created_at, id);
CREATE INDEX messages_org ON messages(org_id, created_at, id);
CREATE INDEX messages_content_tsv ON messages USING gin (content_tsv);
