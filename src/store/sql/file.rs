//! The SQLite file on disk: created private (0600, in a folder created 0700), held by one process
//! at a time, and its path written as a URL.

use crate::store::{Error, Result};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// One process's exclusive hold on an SQLite state file: a lock on `<file>.lock` beside it,
/// which holds the process id. Released when dropped (or when the process ends, however).
#[derive(Debug)]
pub struct StateLock {
    _file: std::fs::File,
}

impl StateLock {
    /// Takes the state file at `state` for this process, or says which process holds it.
    pub fn take(state: &Path) -> Result<StateLock> {
        let path = lock_path(state);
        let cannot = |e: std::io::Error| {
            Error::open_failed(
                &path.display().to_string(),
                e.to_string(),
                "check state.path and its folder's permissions",
            )
        };
        create_private_file(&path).map_err(cannot)?;
        let mut file = std::fs::OpenOptions::new().read(true).write(true).open(&path).map_err(cannot)?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0).and_then(|()| file.rewind()).map_err(cannot)?;
                write!(file, "{}", std::process::id()).map_err(cannot)?;
                Ok(StateLock { _file: file })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                Err(Error::Held { path: state.display().to_string(), pid: pid.trim().parse().ok() })
            }
            Err(std::fs::TryLockError::Error(e)) => Err(cannot(e)),
        }
    }
}

fn lock_path(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Creates the file with mode 0600 when missing, and tightens an existing one; a missing folder
/// is created 0700.
pub(super) fn create_private_file(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?;
    restrict(path)
}

pub(super) use crate::files::{create_private_dir, restrict};

pub(super) fn url_path(path: &Path) -> String {
    const SPECIAL: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b'%').add(b'?').add(b'#').add(b' ');
    percent_encoding::utf8_percent_encode(&path.display().to_string(), SPECIAL).to_string()
}
