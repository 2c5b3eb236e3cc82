-- Question/answer records: one per bot reply to a user message, written in the transaction
-- that completes the reply. `id` is the bot reply's id; `created_at` is when the question
-- was asked (the user message's time), which is what date filters and exports go by.

CREATE TABLE records (
    id               BLOB PRIMARY KEY NOT NULL,
    org_id           BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    chatbot_id       BLOB NOT NULL REFERENCES chatbots(id) ON DELETE CASCADE,
    conversation_id  BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    contact_id       BLOB,
    user_message_id  BLOB NOT NULL,
    input_message    TEXT NOT NULL,
    condense_message TEXT NOT NULL,
    output_message   TEXT NOT NULL,
    context          TEXT,
    reply_time_ms    INTEGER NOT NULL,
    error            TEXT,
    finish_reason    TEXT NOT NULL,
    kind             TEXT NOT NULL,  -- 'New' (first question of its conversation) or 'Follow'
    created_at       INTEGER NOT NULL
);
CREATE INDEX records_chatbot ON records(chatbot_id, created_at, id);
