-- Every change to what authenticates a session (`sessions`, `identities`, `users`) is
-- announced on the channel `wxlogin_user_changes` with the id of the user it concerns,
-- by triggers so that no statement can forget it, whichever process runs it (a server
-- instance, a `wxlogin` command, an operator's SQL). Each instance keeps recently
-- authenticated sessions in memory and listens on the channel to drop a user's entries
-- as soon as one of these rows changes, which keeps logout and revocation immediate on
-- every instance (`sessions/cache.rs`).
--
-- PostgreSQL delivers a transaction's notices when it commits, in commit order, to every
-- listening connection, and folds identical notices of one transaction into one. An
-- instance that loses its listening connection may have missed some, so it empties its
-- cache and fills it again only once it listens again.
--
-- Only the columns that decide an authentication or what `/v1/me` shows are watched: a
-- refresh renews `sessions.expires_at` (which only grows; a cached copy is re-read once
-- it passes) and announces nothing, and neither does a new session or user.
-- A re-sealed phone number (master-key rotation) is announced: its text does not change,
-- but SQL cannot tell that from a new number.

CREATE FUNCTION wxlogin_announce_user_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_user TEXT;
    new_user TEXT;
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        old_user := OLD.id;
    ELSE
        old_user := OLD.user_id;
        IF TG_OP = 'UPDATE' THEN
            new_user := NEW.user_id;
        END IF;
    END IF;
    PERFORM pg_notify('wxlogin_user_changes', old_user);
    IF new_user IS DISTINCT FROM old_user AND new_user IS NOT NULL THEN
        PERFORM pg_notify('wxlogin_user_changes', new_user);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_changed AFTER UPDATE OF unionid, phone_sealed, nickname, avatar_url, roles ON users
FOR EACH ROW
WHEN (OLD.unionid IS DISTINCT FROM NEW.unionid OR OLD.phone_sealed IS DISTINCT FROM NEW.phone_sealed
    OR OLD.nickname IS DISTINCT FROM NEW.nickname OR OLD.avatar_url IS DISTINCT FROM NEW.avatar_url
    OR OLD.roles IS DISTINCT FROM NEW.roles)
EXECUTE FUNCTION wxlogin_announce_user_change();

CREATE TRIGGER users_deleted AFTER DELETE ON users
FOR EACH ROW EXECUTE FUNCTION wxlogin_announce_user_change();

CREATE TRIGGER sessions_changed AFTER UPDATE OF user_id, appid, openid, revoked_at ON sessions
FOR EACH ROW
WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.appid IS DISTINCT FROM NEW.appid
    OR OLD.openid IS DISTINCT FROM NEW.openid OR OLD.revoked_at IS DISTINCT FROM NEW.revoked_at)
EXECUTE FUNCTION wxlogin_announce_user_change();

CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
FOR EACH ROW EXECUTE FUNCTION wxlogin_announce_user_change();

CREATE TRIGGER identities_changed AFTER UPDATE ON identities
FOR EACH ROW EXECUTE FUNCTION wxlogin_announce_user_change();

CREATE TRIGGER identities_deleted AFTER DELETE ON identities
FOR EACH ROW EXECUTE FUNCTION wxlogin_announce_user_change();

-- The instances that serve sessions from memory, each with a lease it renews every second
-- while it follows the channel. A logout or revocation waits until each instance holding
-- a lease has confirmed it applied the change, or until that lease has ended (the
-- instance stops serving from memory before its lease ends), so the change holds on every
-- instance before it is answered (`storage/user_changes.rs`).
CREATE TABLE session_cache_followers (
    id          TEXT PRIMARY KEY NOT NULL,
    lease_until BIGINT NOT NULL
);
