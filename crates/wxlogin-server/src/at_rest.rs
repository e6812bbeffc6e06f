//! Encryption at rest under the master key (AES-256-GCM).
