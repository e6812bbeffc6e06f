//! Access tokens (EdDSA JWT), signing keys and refresh tokens.
