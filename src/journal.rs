//! The progress journal: a record of each part of an action the instant it is done (a message
//! accepted by the SMTP server, a webhook answered), so that neither a restart nor another
//! replica does it again. Beside an SQLite file it is this append-only file: a write that
//! returned survives the process being killed (it is in the kernel's page cache); it is merged
//! into the state store and emptied at every start. On PostgreSQL each part is committed to the
//! database instead (`store::progress`), behind the same [`ProgressLog`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The key of an action finished as a whole.
pub const FINISHED: &str = "*finished*";

/// Where the parts of actions are recorded as they are done.
#[async_trait::async_trait]
pub trait ProgressLog: Send + Sync + std::fmt::Debug {
    /// Records part `key` of queued action `id` of `target` as done.
    async fn append(&self, target: &str, id: i64, key: &str);
    /// Whether this process may still act on `target` (a replica that lost its lease may not).
    fn may_act(&self, _target: &str) -> bool {
        true
    }
}

#[async_trait::async_trait]
impl ProgressLog for Journal {
    async fn append(&self, _target: &str, id: i64, key: &str) {
        Journal::append(self, id, key);
    }
}

/// An append-only file of `(action id, key)` lines.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl Journal {
    /// Opens (creating, mode 0600) the journal of the state file at `state`; returns it with the
    /// entries it already holds (a partly written last line is ignored).
    pub fn open(state: &Path) -> std::io::Result<(Journal, Vec<(i64, String)>)> {
        let mut name = state.as_os_str().to_owned();
        name.push(".journal");
        let path = PathBuf::from(name);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let complete = text.rsplit_once('\n').map_or("", |(lines, _)| lines);
        let entries = complete.lines().filter_map(parse).collect();
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path)?;
        Ok((Journal { path, file: Mutex::new(file) }, entries))
    }

    /// Appends one entry (no fsync: surviving a killed process is the point, not a power cut).
    pub fn append(&self, id: i64, key: &str) {
        let line = format!("{id}\t{}\n", key.replace(['\t', '\n', '\r'], " "));
        let written = self.file.lock().expect("journal").write_all(line.as_bytes());
        if let Err(e) = written {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot append to the progress journal");
        }
    }

    /// Empties the journal once its entries are in the state store.
    pub fn clear(&self) -> std::io::Result<()> {
        self.file.lock().expect("journal").set_len(0)
    }
}

fn parse(line: &str) -> Option<(i64, String)> {
    let (id, key) = line.split_once('\t')?;
    Some((id.parse().ok()?, key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_reopening_and_a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.db");
        let (journal, entries) = Journal::open(&state).unwrap();
        assert!(entries.is_empty());
        journal.append(7, "joe@example.com");
        journal.append(7, FINISHED);
        drop(journal);
        let mut file = std::fs::OpenOptions::new().append(true).open(dir.path().join("state.db.journal")).unwrap();
        file.write_all(b"8\tha").unwrap();
        let (journal, entries) = Journal::open(&state).unwrap();
        assert_eq!(entries, [(7, "joe@example.com".into()), (7, FINISHED.into())]);
        journal.clear().unwrap();
        assert!(Journal::open(&state).unwrap().1.is_empty());
    }
}
