//! Disk faults for the tests (`failpoints` builds only): while the file named by
//! `NBWARDEN_FAILPOINT_DISK` exists and says `ENOSPC` or `EROFS`, opening the state store and
//! every write to it fail as they do on a full disk or a read-only file system, with the same
//! I/O error, so that those paths are tested without root (no tmpfs to fill, no `chattr`).

/// The disk fault in force now, as the I/O error a write would meet.
#[cfg(feature = "failpoints")]
pub(super) fn disk() -> Result<(), sqlx::Error> {
    let Some(control) = std::env::var_os("NBWARDEN_FAILPOINT_DISK") else { return Ok(()) };
    let code = match std::fs::read_to_string(control).as_deref().map(str::trim) {
        Ok("ENOSPC") => 28,
        Ok("EROFS") => 30,
        _ => return Ok(()),
    };
    Err(sqlx::Error::Io(std::io::Error::from_raw_os_error(code)))
}

/// Without the feature there is no fault.
#[cfg(not(feature = "failpoints"))]
pub(super) fn disk() -> Result<(), sqlx::Error> {
    Ok(())
}
