-- Widget visitor sessions: a web chat's anonymous visitor, known by a bearer token that is
-- stored only as its SHA-256 hex digest (a 256-bit random token needs no slow hash). The
-- session reaches only its own contact's conversations in its web chat. Deleting the web chat
-- or the contact ends the session.
-- (Numbered 0008 so it does not collide with migrations other branches add meanwhile.)
CREATE TABLE visitor_sessions (
    id          BLOB PRIMARY KEY NOT NULL,
    org_id      BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    web_chat_id BLOB NOT NULL REFERENCES web_chats(id) ON DELETE CASCADE,
    contact_id  BLOB NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);
CREATE INDEX visitor_sessions_web_chat ON visitor_sessions(web_chat_id);
CREATE INDEX visitor_sessions_contact ON visitor_sessions(contact_id);
