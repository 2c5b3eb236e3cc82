-- Knowledge: a chatbot's documents, cut into passages. Each passage is indexed with its
-- document's title at weight A and its text at weight B, so ts_rank weighs a title match
-- twice a text match, as SQLite's bm25(passage_fts, 2.0, 1.0) does. The *_search columns
-- hold parlor_core::search::normalize'd text; the tsvector is generated from them.

CREATE TABLE documents (
    id               uuid PRIMARY KEY,
    org_id           uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    chatbot_id       uuid NOT NULL REFERENCES chatbots(id) ON DELETE CASCADE,
    title            text NOT NULL,
    content          text NOT NULL,
    metadata         json NOT NULL,  -- as the client gave it (json keeps key order)
    characters_count bigint NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX documents_chatbot ON documents(chatbot_id, created_at, id);

CREATE TABLE passages (
    id           uuid PRIMARY KEY,
    document_id  uuid NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    chatbot_id   uuid NOT NULL,
    position     bigint NOT NULL,
    text         text NOT NULL,
    title_search text NOT NULL,
    text_search  text NOT NULL,
    updated_at   timestamptz NOT NULL,
    search_tsv   tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple'::regconfig, title_search), 'A')
        || setweight(to_tsvector('simple'::regconfig, text_search), 'B')
    ) STORED
);
CREATE INDEX passages_document ON passages(document_id, position);
CREATE INDEX passages_chatbot ON passages(chatbot_id);
CREATE INDEX passages_search ON passages USING GIN (search_tsv);
