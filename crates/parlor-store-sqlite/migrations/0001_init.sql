-- Parlor's schema on SQLite. Ids are UUID v7 as 16-byte BLOBs; times are INTEGER
-- microseconds since the Unix epoch (exact, and cheap to compare in keyset cursors).
-- Tables that feed an FTS5 index carry an explicit INTEGER PRIMARY KEY `seq`: the index rows
-- point at it, and VACUUM may renumber an implicit rowid but never an explicit one.

-- Tenants. `visitor_seq` numbers the contacts made for anonymous visitors ("Visitor 7").
CREATE TABLE organizations (
    id          BLOB PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    visitor_seq INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);

-- API keys, stored as the SHA-256 of the key; looked up by that digest on every request.
CREATE TABLE api_keys (
    id         BLOB PRIMARY KEY NOT NULL,
    org_id     BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX api_keys_org ON api_keys(org_id, created_at);

CREATE TABLE chatbots (
    id               BLOB PRIMARY KEY NOT NULL,
    org_id           BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    instructions     TEXT NOT NULL,
    welcome_message  TEXT NOT NULL,
    fallback_message TEXT NOT NULL,
    model            TEXT,
    temperature      REAL NOT NULL,
    history_messages INTEGER NOT NULL,
    webhook_url      TEXT,
    webhook_secret   TEXT,
    api_web_chat_id  BLOB NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX chatbots_org ON chatbots(org_id, created_at, id);

-- A web chat is the channel (and inbox) contacts reach a chatbot through.
CREATE TABLE web_chats (
    id                 BLOB PRIMARY KEY NOT NULL,
    org_id             BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    chatbot_id         BLOB NOT NULL REFERENCES chatbots(id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    access_type        TEXT NOT NULL,
    welcome_message    TEXT NOT NULL,
    allowed_origins    TEXT NOT NULL,  -- JSON array of origins
    is_active          INTEGER NOT NULL,
    enable_file_upload INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX web_chats_org ON web_chats(org_id, created_at, id);
CREATE INDEX web_chats_chatbot ON web_chats(chatbot_id);

CREATE TABLE contacts (
    id             BLOB PRIMARY KEY NOT NULL,
    org_id         BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    avatar         TEXT,
    email          TEXT,
    phone_number   TEXT,
    source_id      TEXT,
    query_metadata TEXT,  -- JSON object as the client gave it
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX contacts_org ON contacts(org_id, created_at, id);

-- Files attached to messages: uploads (storage_path set) or external URLs.
CREATE TABLE attachments (
    id           BLOB PRIMARY KEY NOT NULL,
    org_id       BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    filename     TEXT NOT NULL,
    file         TEXT NOT NULL,
    storage_path TEXT,
    content_type TEXT,
    size         INTEGER,
    created_at   INTEGER NOT NULL
);

-- Conversations keep their derived state current (title, last message, counters) so a list
-- page is one indexed query.
CREATE TABLE conversations (
    seq                INTEGER PRIMARY KEY,
    id                 BLOB NOT NULL UNIQUE,
    org_id             BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    web_chat_id        BLOB NOT NULL REFERENCES web_chats(id) ON DELETE CASCADE,
    chatbot_id         BLOB,
    contact_id         BLOB REFERENCES contacts(id) ON DELETE SET NULL,
    title              TEXT NOT NULL,
    title_set          INTEGER NOT NULL,  -- 1 once the title was given explicitly
    status             TEXT NOT NULL,
    auto_reply_enabled INTEGER NOT NULL,
    replying           INTEGER NOT NULL DEFAULT 0,  -- bot replies being generated now
    last_read_at       INTEGER,
    last_message_id    BLOB,
    last_message_at    INTEGER,
    message_count      INTEGER NOT NULL DEFAULT 0,
    unread_count       INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX conversations_org ON conversations(org_id, created_at, id);
CREATE INDEX conversations_inbox ON conversations(web_chat_id, created_at, id);
CREATE INDEX conversations_contact ON conversations(contact_id);

CREATE TABLE messages (
    seq             INTEGER PRIMARY KEY,
    id              BLOB NOT NULL UNIQUE,
    org_id          BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    conversation_id BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    kind            TEXT NOT NULL,
    sender_type     TEXT NOT NULL,
    sender          TEXT,           -- JSON {id, name, avatar} as it was when sent
    content         TEXT NOT NULL,
    content_payload TEXT,
    query_metadata  TEXT,
    attachments     TEXT NOT NULL,  -- JSON array of Attachment
    canvas          TEXT,
    feedback        TEXT,
    citations       TEXT NOT NULL,
    citation_nodes  TEXT NOT NULL,
    metadata        TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages(conversation_id, created_at, id);
CREATE INDEX messages_org ON messages(org_id, created_at, id);

-- Keyword search: normalized text (parlor_core::search::normalize) of message contents and
-- conversation titles. Contentless: the text lives in the tables above, the index holds only
-- postings; rows are keyed by the owner's `seq`.
CREATE VIRTUAL TABLE message_fts USING fts5(
    body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE conversation_title_fts USING fts5(
    body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
);

-- FTS5 rows do not follow foreign-key cascades by themselves.
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    DELETE FROM message_fts WHERE rowid = old.seq;
END;
CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
    DELETE FROM conversation_title_fts WHERE rowid = old.seq;
END;
