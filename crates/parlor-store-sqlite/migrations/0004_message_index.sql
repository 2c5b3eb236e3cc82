-- Keyword search over messages, keyed so that a match names its conversation.
--
-- `message_fts` (0001) keys each message's index row by the message's `seq`, so finding the
-- conversations that contain a word meant one `messages` row lookup per matching message:
-- about 40 ms for a common word over a million messages, with the FTS5 match itself ~1 ms.
-- `message_index` keys the row by
--
--     rowid = (conversation seq << 32) | (message seq & 0xFFFFFFFF)
--
-- so `rowid >> 32` is the conversation's `seq`, read straight from the index's postings.
-- The low half only has to be unique within one conversation: two messages of the same
-- conversation would have to be 2^32 (4.29 billion) messages apart to collide.
--
-- The index holds normalized text (parlor_core::search::normalize, done in Rust), which SQL
-- cannot compute, so this migration cannot fill it: `SqliteStore::open` does, from
-- `messages`, right after migrating, and drops `message_fts` in the same transaction. Until
-- then `message_fts` is no longer kept up to date (its delete trigger goes here).

DROP TRIGGER messages_fts_delete;

CREATE VIRTUAL TABLE message_index USING fts5(
    body, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
);

-- A message deleted on its own. When it goes with its conversation (a cascade), the
-- conversation row may already be gone and the subquery NULL: the trigger below covers that.
CREATE TRIGGER messages_index_delete AFTER DELETE ON messages BEGIN
    DELETE FROM message_index
    WHERE rowid = ((SELECT seq FROM conversations WHERE id = old.conversation_id) << 32)
        | (old.seq & 4294967295);
END;

-- A conversation's messages occupy one contiguous rowid range of the index.
CREATE TRIGGER conversations_index_delete AFTER DELETE ON conversations BEGIN
    DELETE FROM message_index WHERE rowid BETWEEN (old.seq << 32) AND ((old.seq << 32) | 4294967295);
END;
