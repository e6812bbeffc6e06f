//! The files of a SQLite database: created private, and watched while the server runs.
//!
//! The database holds openids, phone numbers and refresh-token hashes, so a new file is
//! created 0600 whatever the umask (SQLite gives its `-wal` and `-shm` the main file's
//! mode). An existing file readable by others is the operator's choice: it is reported
//! loudly, not changed.
//!
//! SQLite does not notice its files going away: with them deleted it keeps committing
//! into unlinked files that vanish at restart; with them made unwritable (immutable, a
//! read-only mount) the next write fault on the memory-mapped `-shm` kills the process
//! with SIGBUS. So before a connection is lent out, the paths are compared with what the
//! connections have open ((device, inode) of the file, its `-wal` and `-shm`) and checked
//! writable (`access(W_OK)`, which also sees immutable files and read-only mounts, even
//! for root). The verdict is cached for [`CHECK_INTERVAL`]: a handful of `stat`s a few
//! times a second, whatever the request rate.
//!
//! Nothing here opens the database files: closing any descriptor of a file drops every
//! POSIX lock the process holds on it, SQLite's included.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a verdict on the files is reused. Short, because a write into a `-shm` made
/// unwritable since the last look can be fatal (see the module docs).
pub(crate) const CHECK_INTERVAL: Duration = Duration::from_millis(250);

/// The suffixes of the files SQLite keeps beside the database in WAL mode.
const COMPANIONS: [&str; 2] = ["-wal", "-shm"];

/// (device, inode) of the database file and of its `-wal` and `-shm`.
type Identities = [(u64, u64); 3];

/// What the paths hold compared with the open connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The connections' files are in place and writable.
    Usable,
    /// Writable files are in place, but not the ones the connections have open (restored
    /// from a copy, say): reopen the connections.
    Replaced,
    /// Gone or not writable: nothing may touch the database. The reason names the file.
    Unusable(String),
}

/// Watches one SQLite database's files.
pub(crate) struct DatabaseFiles {
    path: PathBuf,
    opened: Mutex<Option<Identities>>,
    /// Bumped each time connections are (re)opened on new files: a connection opened under
    /// an older generation is stale.
    generation: AtomicU64,
    last: Mutex<Option<(Instant, Verdict)>>,
}

impl DatabaseFiles {
    pub(crate) fn new(path: &Path) -> Self {
        DatabaseFiles {
            path: path.to_path_buf(),
            opened: Mutex::new(None),
            generation: AtomicU64::new(0),
            last: Mutex::new(None),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Create the database file 0600 if it is missing, so that SQLite (which keeps an
    /// existing file's mode and gives it to `-wal` and `-shm`) never creates it under the
    /// umask; warn when an existing one is readable by group or others.
    pub(crate) fn create_private(&self) -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&self.path) {
            Ok(_created) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                self.warn_if_readable_by_others(&self.path);
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// Give `-wal` and `-shm` no more access than the database file (SQLite copies the
    /// mode when it creates them; files left by an older version may have more).
    pub(crate) fn restrict_companions(&self) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let Ok(main) = std::fs::metadata(&self.path) else {
                return;
            };
            let allowed = main.permissions().mode() & 0o777;
            for companion in companion_paths(&self.path) {
                let Ok(metadata) = std::fs::metadata(&companion) else {
                    continue;
                };
                let mode = metadata.permissions().mode() & 0o777;
                if mode & !allowed != 0 {
                    let restricted = std::fs::Permissions::from_mode(mode & allowed);
                    if let Err(error) = std::fs::set_permissions(&companion, restricted) {
                        tracing::warn!(path = %companion.display(), %error, "cannot restrict the permissions of a SQLite file");
                    }
                }
            }
        }
    }

    fn warn_if_readable_by_others(&self, path: &Path) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(metadata) = std::fs::metadata(path) {
                let mode = metadata.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    tracing::warn!(
                        path = %path.display(),
                        mode = format!("{mode:04o}"),
                        "the SQLite database (openids, phone numbers, refresh-token hashes) is accessible to group or others: chmod 600 it and its -wal and -shm"
                    );
                }
            }
        }
    }

    /// Remember the files the connections have just opened as the ones to expect, in a
    /// new generation.
    pub(crate) fn record_opened(&self) -> std::io::Result<()> {
        let identities = current_identities(&self.path)?;
        *lock(&self.opened) = Some(identities);
        self.generation.fetch_add(1, Ordering::AcqRel);
        *lock(&self.last) = Some((Instant::now(), Verdict::Usable));
        Ok(())
    }

    /// The generation of the files last recorded as opened.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The `-wal` file beside the database file.
    pub(crate) fn wal_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_os_string();
        name.push("-wal");
        PathBuf::from(name)
    }

    /// The verdict, looked up now whatever the cached one says.
    pub(crate) fn check_now(&self) -> Verdict {
        let mut last = lock(&self.last);
        let verdict = self.look();
        *last = Some((Instant::now(), verdict.clone()));
        verdict
    }

    /// The verdict, looked up again when the cached one is older than [`CHECK_INTERVAL`].
    pub(crate) fn check(&self) -> Verdict {
        let mut last = lock(&self.last);
        if let Some((at, verdict)) = last.as_ref() {
            if at.elapsed() < CHECK_INTERVAL {
                return verdict.clone();
            }
        }
        let verdict = self.look();
        *last = Some((Instant::now(), verdict.clone()));
        verdict
    }

    fn look(&self) -> Verdict {
        let Some(opened) = *lock(&self.opened) else {
            return Verdict::Replaced;
        };
        let main = match file_identity(&self.path) {
            Ok(main) => main,
            Err(gone) => return Verdict::Unusable(gone.to_string()),
        };
        for path in std::iter::once(self.path.clone()).chain(companion_paths(&self.path)) {
            match writable(&path) {
                Ok(()) => {}
                // A companion may be missing from a restored copy: SQLite makes it anew.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound && path != self.path => {
                }
                Err(error) => {
                    return Verdict::Unusable(format!(
                        "the SQLite file {} is not writable ({error})",
                        path.display()
                    ))
                }
            }
        }
        if main != opened[0] {
            return Verdict::Replaced;
        }
        // The same database file, but a companion deleted or swapped under the connections:
        // reopening would lose the commits only the open `-wal` holds, so stay unusable
        // until it is back.
        match current_identities(&self.path) {
            Ok(current) if current == opened => Verdict::Usable,
            Ok(_) => Verdict::Unusable(format!(
                "the -wal or -shm of {} was replaced under the open database",
                self.path.display()
            )),
            Err(gone) => Verdict::Unusable(gone.to_string()),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn companion_paths(path: &Path) -> impl Iterator<Item = PathBuf> + '_ {
    COMPANIONS.iter().map(move |suffix| {
        let mut name = path.as_os_str().to_os_string();
        name.push(suffix);
        PathBuf::from(name)
    })
}

/// (device, inode) of the database file and its companions; an error names what is gone.
fn current_identities(path: &Path) -> std::io::Result<Identities> {
    let mut identities = [(0, 0); 3];
    for (slot, path) in identities
        .iter_mut()
        .zip(std::iter::once(path.to_path_buf()).chain(companion_paths(path)))
    {
        *slot = file_identity(&path)?;
    }
    Ok(identities)
}

fn file_identity(path: &Path) -> std::io::Result<(u64, u64)> {
    let metadata = std::fs::metadata(path).map_err(|error| {
        std::io::Error::new(
            error.kind(),
            format!("the SQLite file {} is gone ({error})", path.display()),
        )
    })?;
    Ok(identity(&metadata))
}

#[cfg(unix)]
fn identity(metadata: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

#[cfg(not(unix))]
fn identity(_metadata: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// `access(W_OK)`: asks the kernel without opening the file (see the module docs).
#[cfg(unix)]
fn writable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: `path` is a NUL-terminated string that outlives the call.
    if unsafe { libc::access(path.as_ptr(), libc::W_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn writable(path: &Path) -> std::io::Result<()> {
    match std::fs::metadata(path)?.permissions().readonly() {
        true => Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied)),
        false => Ok(()),
    }
}
