-- Knowledge: a chatbot's documents, cut into passages, each indexed beside its document's
-- title so retrieval can weigh a title match above a text match.

CREATE TABLE documents (
    id               BLOB PRIMARY KEY NOT NULL,
    org_id           BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    chatbot_id       BLOB NOT NULL REFERENCES chatbots(id) ON DELETE CASCADE,
    title            TEXT NOT NULL,
    content          TEXT NOT NULL,
    metadata         TEXT NOT NULL,  -- JSON object as the client gave it
    characters_count INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX documents_chatbot ON documents(chatbot_id, created_at, id);

CREATE TABLE passages (
    seq         INTEGER PRIMARY KEY,
    id          BLOB NOT NULL UNIQUE,
    document_id BLOB NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    chatbot_id  BLOB NOT NULL,
    position    INTEGER NOT NULL,
    text        TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX passages_document ON passages(document_id, position);
CREATE INDEX passages_chatbot ON passages(chatbot_id);

-- Normalized title and text (parlor_core::search::normalize), keyed by passages.seq.
CREATE VIRTUAL TABLE passage_fts USING fts5(
    title, text, tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER passages_fts_delete AFTER DELETE ON passages BEGIN
    DELETE FROM passage_fts WHERE rowid = old.seq;
END;
