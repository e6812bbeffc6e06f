-- Webhooks: which events each configured receiver wants, and one delivery row per
-- (event, webhook), inserted in the same transaction as the event (storage/events.rs), so
-- an event is never committed without its deliveries, whatever the commit order of
-- concurrent transactions.

-- What the configured webhooks subscribe to, written by each instance at start-up from
-- its settings (the secrets stay in the settings, never here). event_type '*' is every type.
CREATE TABLE webhook_subscriptions (
    webhook     TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    PRIMARY KEY (webhook, event_type)
);

-- status: pending (to send), delivered (a 2xx answer) or dead (failed until give_up_at).
-- lease_owner / lease_expires_at: the instance sending it now; a lapsed lease (a crashed
-- instance) lets another one take over.
CREATE TABLE webhook_deliveries (
    id                BIGSERIAL PRIMARY KEY,
    webhook           TEXT NOT NULL,
    event_seq         BIGINT NOT NULL,
    event_id          TEXT NOT NULL,
    event_type        TEXT NOT NULL,
    user_id           TEXT,
    status            TEXT NOT NULL DEFAULT 'pending',
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT NOT NULL,
    give_up_at        BIGINT NOT NULL,
    last_error        TEXT,
    lease_owner       TEXT,
    lease_expires_at  BIGINT,
    delivered_at      BIGINT,
    UNIQUE (webhook, event_seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
-- The per-user order check: an earlier pending delivery of the same user and webhook.
CREATE INDEX webhook_deliveries_user ON webhook_deliveries (webhook, user_id, event_seq);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_seq);
