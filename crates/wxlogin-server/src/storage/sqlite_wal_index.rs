//! A read-only view of a SQLite database's wal-index header (the start of its `-shm`
//! file), which tells, for the price of reading memory, whether any connection of any
//! process has committed since the last look.
//!
//! Every connection to a WAL database maps the `-shm` file and, on each commit, bumps the
//! header's change counter (`iChange`) and publishes it: SQLite writes the second copy of
//! the header, then a memory barrier, then the first; a reader that finds both copies
//! equal has read a whole header (https://www.sqlite.org/walformat.html, "The WAL-Index
//! Header"; `walIndexWriteHdr` and `walIndexTryHdr` in SQLite's wal.c). The session cache
//! uses this to serve an entry only while nothing at all has committed since its follower
//! last caught up, so a revocation by a `wxlogin` command is as immediate as one made
//! through the server.
//!
//! The mapping is read-only and shared: it never writes, so it cannot corrupt the index.
//! SQLite truncates `-shm` only when a connection opens it with no other connection
//! holding it, which cannot happen while this process's own connections are open.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{fence, Ordering};

/// Bytes of one copy of the header.
const HEADER_COPY: usize = 48;
/// Offset of `iChange` and of `mxFrame` in a copy (native byte order).
const CHANGE_COUNTER: usize = 8;
const MAX_FRAME: usize = 16;
/// Offset of `isInit` in a copy.
const IS_INIT: usize = 12;

/// The mapped first page of a `-shm` file.
pub(crate) struct WalIndexHeader {
    address: *const u8,
    length: usize,
    _file: File,
}

// The mapping is only ever read, with volatile reads, and unmapped once, on drop.
unsafe impl Send for WalIndexHeader {}
unsafe impl Sync for WalIndexHeader {}

impl WalIndexHeader {
    /// Map the header of the `-shm` file at `path` (it must already hold one: SQLite
    /// creates it with the first read of a WAL database).
    pub(crate) fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let length = 2 * HEADER_COPY;
        if file.metadata()?.len() < length as u64 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "the -shm file holds no wal-index header yet",
            ));
        }
        // SAFETY: a fresh read-only shared mapping of an open file, at least `length`
        // bytes long (checked above); the pointer is checked for failure before use.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                length,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(WalIndexHeader {
            address: address as *const u8,
            length,
            _file: file,
        })
    }

    /// `iChange` and `mxFrame` of the header, or `None` while a commit is publishing it
    /// (the two copies differ) or before any connection has initialised it.
    pub(crate) fn commit_mark(&self) -> Option<u64> {
        let first = self.copy(0);
        fence(Ordering::Acquire);
        let second = self.copy(HEADER_COPY);
        if first != second || first[IS_INIT] == 0 {
            return None;
        }
        let word = |offset: usize| {
            u32::from_ne_bytes([
                first[offset],
                first[offset + 1],
                first[offset + 2],
                first[offset + 3],
            ])
        };
        Some(u64::from(word(CHANGE_COUNTER)) | (u64::from(word(MAX_FRAME)) << 32))
    }

    fn copy(&self, offset: usize) -> [u8; HEADER_COPY] {
        let mut bytes = [0u8; HEADER_COPY];
        for (index, byte) in bytes.iter_mut().enumerate() {
            // SAFETY: offset + index < 2 * HEADER_COPY = self.length, inside the mapping;
            // volatile because another process changes this memory.
            *byte = unsafe { std::ptr::read_volatile(self.address.add(offset + index)) };
        }
        bytes
    }
}

impl Drop for WalIndexHeader {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `open`, unmapped once.
        unsafe {
            libc::munmap(self.address as *mut libc::c_void, self.length);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::test_dir::TestDir;

    fn database(dir: &Path) -> rusqlite::Connection {
        let connection = rusqlite::Connection::open(dir.join("db.sqlite")).unwrap();
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .unwrap();
        connection
            .execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);")
            .unwrap();
        connection
    }

    #[test]
    fn every_commit_of_any_connection_changes_the_mark_and_reads_do_not() {
        let dir = TestDir::new("commits");
        let writer = database(dir.path());
        let header = WalIndexHeader::open(&dir.path().join("db.sqlite-shm")).unwrap();
        let before = header.commit_mark().expect("initialised");

        let reader = rusqlite::Connection::open(dir.path().join("db.sqlite")).unwrap();
        let _: i64 = reader
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(header.commit_mark(), Some(before), "a read commits nothing");

        // Another connection (as another process would) commits.
        reader.execute("INSERT INTO t VALUES (2)", []).unwrap();
        let after_other = header.commit_mark().unwrap();
        assert_ne!(after_other, before);

        writer.execute("UPDATE t SET x = x + 1", []).unwrap();
        let after_own = header.commit_mark().unwrap();
        assert_ne!(after_own, after_other);

        // A rolled-back transaction publishes nothing.
        writer
            .execute_batch("BEGIN; INSERT INTO t VALUES (3); ROLLBACK;")
            .unwrap();
        assert_eq!(header.commit_mark(), Some(after_own));

        // A checkpoint that restarts the WAL may change it (a needless catch-up, never a
        // missed commit); the commit after it still counts.
        writer
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let after_checkpoint = header.commit_mark().unwrap();
        writer.execute("INSERT INTO t VALUES (4)", []).unwrap();
        assert_ne!(header.commit_mark().unwrap(), after_checkpoint);
    }

    #[test]
    fn a_missing_or_empty_shm_file_is_refused() {
        let dir = TestDir::new("missing");
        assert!(WalIndexHeader::open(&dir.path().join("absent-shm")).is_err());
        std::fs::write(dir.path().join("empty-shm"), b"").unwrap();
        assert!(WalIndexHeader::open(&dir.path().join("empty-shm")).is_err());
    }
}
