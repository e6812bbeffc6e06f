-- A login writes one page for every b-tree it inserts a row into: each table and each of
-- its indexes (BENCHMARKS.md, "Pages per login"). Two changes write fewer pages without
-- changing what any query finds:
--
-- 1. The admin search's indexes on columns a new user leaves empty (nickname, the phone
--    blind indexes) hold only the rows that have a value: a search for a value never
--    matches NULL, and SQLite (like PostgreSQL) uses a `WHERE col IS NOT NULL` index for
--    `col = ?` and range conditions.
-- 2. Tables keyed by a text key are stored WITHOUT ROWID: the row lives in its key's
--    b-tree instead of a rowid table plus a separate index of the key (one b-tree, not
--    two). Only tables that no foreign key points at are rebuilt here (dropping a table
--    that one references would delete the referencing rows).

DROP INDEX users_nickname;
CREATE INDEX users_nickname ON users (nickname, id) WHERE nickname IS NOT NULL;
DROP INDEX users_phone_index;
CREATE INDEX users_phone_index ON users (phone_index) WHERE phone_index IS NOT NULL;
DROP INDEX users_pure_phone_index;
CREATE INDEX users_pure_phone_index ON users (pure_phone_index) WHERE pure_phone_index IS NOT NULL;

CREATE TABLE login_codes_rebuilt (
    code_hash    TEXT PRIMARY KEY NOT NULL,
    appid        TEXT NOT NULL,
    state        TEXT NOT NULL,
    user_id      TEXT,
    openid       TEXT,
    created_at   INTEGER NOT NULL,
    completed_at INTEGER,
    expires_at   INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO login_codes_rebuilt (code_hash, appid, state, user_id, openid, created_at, completed_at, expires_at)
    SELECT code_hash, appid, state, user_id, openid, created_at, completed_at, expires_at FROM login_codes;
DROP TABLE login_codes;
ALTER TABLE login_codes_rebuilt RENAME TO login_codes;
CREATE INDEX login_codes_expires_at ON login_codes (expires_at);

CREATE TABLE session_keys_rebuilt (
    appid         TEXT NOT NULL,
    openid        TEXT NOT NULL,
    sealed        BLOB NOT NULL,
    updated_at    INTEGER NOT NULL,
    master_key_id TEXT,
    PRIMARY KEY (appid, openid)
) WITHOUT ROWID;
INSERT INTO session_keys_rebuilt (appid, openid, sealed, updated_at, master_key_id)
    SELECT appid, openid, sealed, updated_at, master_key_id FROM session_keys;
DROP TABLE session_keys;
ALTER TABLE session_keys_rebuilt RENAME TO session_keys;

CREATE TABLE identities_rebuilt (
    appid      TEXT NOT NULL,
    openid     TEXT NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    unionid    TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (appid, openid)
) WITHOUT ROWID;
INSERT INTO identities_rebuilt (appid, openid, user_id, unionid, created_at)
    SELECT appid, openid, user_id, unionid, created_at FROM identities;
DROP TABLE identities;
ALTER TABLE identities_rebuilt RENAME TO identities;
CREATE INDEX identities_unionid ON identities (unionid) WHERE unionid IS NOT NULL;
CREATE INDEX identities_user_id ON identities (user_id);
CREATE INDEX identities_openid ON identities (openid);

CREATE TABLE refresh_tokens_rebuilt (
    hash       TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER
) WITHOUT ROWID;
INSERT INTO refresh_tokens_rebuilt (hash, session_id, issued_at, expires_at, spent_at)
    SELECT hash, session_id, issued_at, expires_at, spent_at FROM refresh_tokens;
DROP TABLE refresh_tokens;
ALTER TABLE refresh_tokens_rebuilt RENAME TO refresh_tokens;
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
