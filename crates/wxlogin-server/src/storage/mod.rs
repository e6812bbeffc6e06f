//! The storage layer: one API over SQLite and PostgreSQL.
