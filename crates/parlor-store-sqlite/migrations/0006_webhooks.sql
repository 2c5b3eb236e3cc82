-- Background replies and webhook deliveries. (`chatbots.webhook_secret` exists since 0001.)

-- Incoming messages waiting for their background reply, per conversation, answered oldest
-- first. A row leaves in the transaction that completes its reply (or with its message).
CREATE TABLE auto_replies (
    message_id      BLOB PRIMARY KEY NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    org_id          BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    conversation_id BLOB NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL  -- the question's time: the queue's order
);
CREATE INDEX auto_replies_conversation ON auto_replies(conversation_id, created_at, message_id);

-- The outbox: one row per bot reply to send to its chatbot's webhook, written in the
-- transaction that completes the reply. `body` is the exact JSON signed and sent on every try.
-- While `state` is 'pending', `next_attempt_at` is when the next try is due, or when the lease
-- of the worker trying it now ends (so a delivery whose worker died comes due again).
CREATE TABLE webhook_deliveries (
    id              BLOB PRIMARY KEY NOT NULL,
    org_id          BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    chatbot_id      BLOB NOT NULL REFERENCES chatbots(id) ON DELETE CASCADE,
    message_id      BLOB NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL,  -- 'pending', 'delivered' or 'failed' (gave up)
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at, id) WHERE state = 'pending';

-- Every try of every delivery, as `/chatbots/{id}/webhook-records/` lists them.
CREATE TABLE webhook_records (
    id           BLOB PRIMARY KEY NOT NULL,
    org_id       BLOB NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    chatbot_id   BLOB NOT NULL REFERENCES chatbots(id) ON DELETE CASCADE,
    delivery_id  BLOB NOT NULL,
    message_id   BLOB NOT NULL,
    url          TEXT NOT NULL,
    request_body TEXT NOT NULL,
    response     TEXT,           -- the receiver's body, cut to a few KiB
    status_code  INTEGER,        -- NULL when no response came
    error        TEXT,           -- why no response came
    attempt      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX webhook_records_chatbot ON webhook_records(chatbot_id, created_at, id);
