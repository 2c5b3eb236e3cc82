-- Background replies and webhook deliveries, as on SQLite. (`chatbots.webhook_secret` exists
-- since 0001.)

-- Incoming messages waiting for their background reply, per conversation, answered oldest
-- first. A row leaves in the transaction that completes its reply (or with its message).
CREATE TABLE auto_replies (
    message_id      uuid PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    org_id          uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    conversation_id uuid NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL  -- the question's time: the queue's order
);
CREATE INDEX auto_replies_conversation ON auto_replies(conversation_id, created_at, message_id);

-- The outbox: one row per bot reply to send to its chatbot's webhook, written in the
-- transaction that completes the reply. `body` is the exact JSON signed and sent on every try.
-- While `state` is 'pending', `next_attempt_at` is when the next try is due, or when the lease
-- of the worker trying it now ends (so a delivery whose worker died comes due again).
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    org_id          uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    chatbot_id      uuid NOT NULL REFERENCES chatbots(id) ON DELETE CASCADE,
    message_id      uuid NOT NULL,
    body            text NOT NULL,
    state           text NOT NULL,  -- 'pending', 'delivered' or 'failed' (gave up)
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at, id) WHERE state = 'pending';

-- Every try of every delivery, as `/chatbots/{id}/webhook-records/` lists them.
CREATE TABLE webhook_records (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    chatbot_id   uuid NOT NULL REFERENCES chatbots(id) ON DELETE CASCADE,
    delivery_id  uuid NOT NULL,
    message_id   uuid NOT NULL,
    url          text NOT NULL,
    request_body text NOT NULL,
    response     text,           -- the receiver's body, cut to a few KiB
    status_code  integer,        -- NULL when no response came
    error        text,           -- why no response came
    attempt      integer NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX webhook_records_chatbot ON webhook_records(chatbot_id, created_at, id);
