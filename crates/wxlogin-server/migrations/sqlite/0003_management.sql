-- The management plane: admin API keys, users' roles, the event outbox and the audit log.

-- Admin API keys, stored as the SHA-256 of the key text; the name is what logs and the
-- audit log show. Scopes: comma-separated (users:read, users:write, events:read,
-- tokens:introspect, console).
CREATE TABLE admin_keys (
    name         TEXT PRIMARY KEY NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    scopes       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);

-- A user's roles, comma-separated, as the access tokens' roles claim carries them.
ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '';
CREATE INDEX users_nickname ON users (nickname, id);
-- The admin search's exact matches (user id, unionid and the identity's key are indexed
-- already).
CREATE INDEX users_phone_number ON users (phone_number);
CREATE INDEX users_pure_phone_number ON users (pure_phone_number);
CREATE INDEX identities_openid ON identities (openid);

-- Events, written in the same transaction as the change they describe. seq orders them
-- (the API's cursor); id is what receivers deduplicate by. data never holds a phone
-- number, token or key.
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    user_id     TEXT,
    data        TEXT NOT NULL
);
CREATE INDEX events_user_id ON events (user_id, seq);
CREATE INDEX events_occurred_at ON events (occurred_at);

-- What admin keys changed.
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    key_name    TEXT NOT NULL,
    action      TEXT NOT NULL,
    user_id     TEXT
);
