-- Phone numbers sealed at rest under the master key, like session keys (the server seals
-- the rows still in clear at start, then clears these columns: phone_number,
-- pure_phone_number and country_code stay NULL from then on). The admin search by phone
-- goes through keyed blind indexes (HMAC-SHA256 under a key of its own, kept sealed in
-- server_secrets), so an index without the master key says nothing.
ALTER TABLE users ADD COLUMN phone_sealed BLOB;
ALTER TABLE users ADD COLUMN master_key_id TEXT;
ALTER TABLE users ADD COLUMN phone_index TEXT;
ALTER TABLE users ADD COLUMN pure_phone_index TEXT;
CREATE INDEX users_phone_index ON users (phone_index);
CREATE INDEX users_pure_phone_index ON users (pure_phone_index);
DROP INDEX users_phone_number;
DROP INDEX users_pure_phone_number;
-- Finds the rows still in clear at every start without scanning the table (empty once
-- they are sealed).
CREATE INDEX users_clear_phone ON users (id) WHERE phone_number IS NOT NULL;

-- Server-wide secrets (the phone index key), sealed like every other secret.
CREATE TABLE server_secrets (
    name          TEXT PRIMARY KEY NOT NULL,
    sealed_value  BLOB NOT NULL,
    master_key_id TEXT
);
