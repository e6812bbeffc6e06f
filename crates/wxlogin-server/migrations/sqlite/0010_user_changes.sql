-- Every change to what authenticates a session (`sessions`, `identities`, `users`) leaves
-- the id of the user it concerns in `user_changes`, written by triggers so that no
-- statement can forget it, whichever process runs it (the server, a `wxlogin` command,
-- an operator's SQL). A server keeps recently authenticated sessions in memory and
-- follows this log to drop a user's entries as soon as one of these rows changes, which
-- keeps logout and revocation immediate (`sessions/cache.rs`).
--
-- Only the columns that decide an authentication or what `/v1/me` shows are watched: a
-- refresh renews `sessions.expires_at` (which only grows; a cached copy is re-read once
-- it passes) and writes no row here, and neither does a new session or user.
-- A re-sealed phone number (master-key rotation) writes one row per user: its text does
-- not change, but SQL cannot tell that from a new number.
--
-- One writer at a time on SQLite, so `seq` grows in commit order and a reader that has
-- seen `seq` N has seen every change committed before N.

CREATE TABLE user_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    TEXT NOT NULL,
    changed_at INTEGER NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);
CREATE INDEX user_changes_changed_at ON user_changes (changed_at);

CREATE TRIGGER users_changed AFTER UPDATE OF unionid, phone_sealed, nickname, avatar_url, roles ON users
WHEN OLD.unionid IS NOT NEW.unionid OR OLD.phone_sealed IS NOT NEW.phone_sealed
    OR OLD.nickname IS NOT NEW.nickname OR OLD.avatar_url IS NOT NEW.avatar_url
    OR OLD.roles IS NOT NEW.roles
BEGIN
    INSERT INTO user_changes (user_id) VALUES (OLD.id);
END;

CREATE TRIGGER users_deleted AFTER DELETE ON users
BEGIN
    INSERT INTO user_changes (user_id) VALUES (OLD.id);
END;

CREATE TRIGGER sessions_changed AFTER UPDATE OF user_id, appid, openid, revoked_at ON sessions
WHEN OLD.user_id IS NOT NEW.user_id OR OLD.appid IS NOT NEW.appid
    OR OLD.openid IS NOT NEW.openid OR OLD.revoked_at IS NOT NEW.revoked_at
BEGIN
    INSERT INTO user_changes (user_id) VALUES (OLD.user_id);
    INSERT INTO user_changes (user_id) SELECT NEW.user_id WHERE NEW.user_id IS NOT OLD.user_id;
END;

CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
BEGIN
    INSERT INTO user_changes (user_id) VALUES (OLD.user_id);
END;

CREATE TRIGGER identities_changed AFTER UPDATE ON identities
BEGIN
    INSERT INTO user_changes (user_id) VALUES (OLD.user_id);
    INSERT INTO user_changes (user_id) SELECT NEW.user_id WHERE NEW.user_id IS NOT OLD.user_id;
END;

CREATE TRIGGER identities_deleted AFTER DELETE ON identities
BEGIN
    INSERT INTO user_changes (user_id) VALUES (OLD.user_id);
END;
