-- Question/answer records: one per bot reply to a user message, written in the transaction
-- that completes the reply. `id` is the bot reply's id; `created_at` is when the question
-- was asked (the user message's time), which is what date filters and exports go by.

CREATE TABLE records (
    id               uuid PRIMARY KEY,
    org_id           uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    chatbot_id       uuid NOT NULL REFERENCES chatbots(id) ON DELETE CASCADE,
    conversation_id  uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    contact_id       uuid,
    user_message_id  uuid NOT NULL,
    input_message    text NOT NULL,
    condense_message text NOT NULL,
    output_message   text NOT NULL,
    context          text,
    reply_time_ms    bigint NOT NULL,
    error            text,
    finish_reason    text NOT NULL,
    kind             text NOT NULL,  -- 'New' (first question of its conversation) or 'Follow'
    created_at       timestamptz NOT NULL
);
CREATE INDEX records_chatbot ON records(chatbot_id, created_at, id);
