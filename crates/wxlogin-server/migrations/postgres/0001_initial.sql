-- wxlogin schema, PostgreSQL flavour. Kept in step with ../sqlite/0001_initial.sql.
-- Timestamps are unix seconds (lease_until_ms: unix milliseconds); ids are UUID text.

CREATE TABLE users (
    id                TEXT PRIMARY KEY NOT NULL,
    unionid           TEXT UNIQUE,
    phone_number      TEXT,
    pure_phone_number TEXT,
    country_code      TEXT,
    nickname          TEXT,
    avatar_url        TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX users_created_at ON users (created_at, id);

CREATE TABLE identities (
    appid      TEXT NOT NULL,
    openid     TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    unionid    TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (appid, openid)
);
CREATE INDEX identities_unionid ON identities (unionid);
CREATE INDEX identities_user_id ON identities (user_id);

CREATE TABLE session_keys (
    appid      TEXT NOT NULL,
    openid     TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (appid, openid)
);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    appid      TEXT NOT NULL,
    openid     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    spent_at   BIGINT
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY NOT NULL,
    sealed_private BYTEA NOT NULL,
    public_key     BYTEA NOT NULL,
    created_at     BIGINT NOT NULL,
    retired_at     BIGINT
);

CREATE TABLE access_tokens (
    appid          TEXT PRIMARY KEY NOT NULL,
    sealed_token   BYTEA,
    expires_at     BIGINT,
    lease_holder   TEXT,
    lease_until_ms BIGINT
);

CREATE TABLE login_codes (
    code_hash    TEXT PRIMARY KEY NOT NULL,
    appid        TEXT NOT NULL,
    state        TEXT NOT NULL,
    user_id      TEXT,
    openid       TEXT,
    created_at   BIGINT NOT NULL,
    completed_at BIGINT,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX login_codes_expires_at ON login_codes (expires_at);
