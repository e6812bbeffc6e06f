-- Access tokens are signed with ES256 (P-256) by default and EdDSA (Ed25519) on request;
-- every key says which. Keys made before this were Ed25519. (The public key column holds
-- SEC1 uncompressed points for P-256, 65 bytes, and the 32 raw bytes for Ed25519.)
ALTER TABLE signing_keys ADD COLUMN alg TEXT NOT NULL DEFAULT 'EdDSA';
