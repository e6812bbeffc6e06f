-- Which master key sealed each sealed value: its id (src/master_keys.rs), so that readers
-- open with the right key during a master-key roll and `wxlogin master-key rotate` finds
-- what is still under an old key. NULL: sealed before ids were stored (tried with every
-- configured key). Additive: instances of the previous release keep working meanwhile.
ALTER TABLE session_keys ADD COLUMN master_key_id TEXT;
ALTER TABLE access_tokens ADD COLUMN master_key_id TEXT;
ALTER TABLE signing_keys ADD COLUMN master_key_id TEXT;
