-- The admin console (src/console): its sessions, the refused sign-ins it rate-limits, and
-- the per-minute figures its overview draws. All three live here, not in one instance's
-- memory, so N instances behind a load balancer share them.

-- A signed-in operator. The cookie holds a random token; only its SHA-256 is stored. The
-- session belongs to the admin key it signed in with (by the key's hash, so a key revoked
-- and re-created under the same name does not inherit it).
CREATE TABLE console_sessions (
    token_hash     TEXT PRIMARY KEY NOT NULL,
    admin_key_hash TEXT NOT NULL,
    csrf           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL
);
CREATE INDEX console_sessions_admin_key ON console_sessions (admin_key_hash);

-- Refused sign-ins per client address and minute.
CREATE TABLE console_sign_in_failures (
    client       TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    failures     BIGINT NOT NULL,
    PRIMARY KEY (client, window_start)
);
CREATE INDEX console_sign_in_failures_window ON console_sign_in_failures (window_start);

-- What each instance counted in one minute (unix seconds / 60), added up across
-- instances: series 'login' (label: the outcome) and 'upstream' (label: endpoint and
-- errcode, with the calls' total latency).
CREATE TABLE console_minutes (
    minute   BIGINT NOT NULL,
    series   TEXT NOT NULL,
    label    TEXT NOT NULL,
    count    BIGINT NOT NULL,
    total_ms BIGINT NOT NULL,
    PRIMARY KEY (minute, series, label)
);
