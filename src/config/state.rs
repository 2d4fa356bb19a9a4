//! `state:` and `ha:` (SPEC §2, §4.12): where the state lives (a SQLite file, or a PostgreSQL
//! server with its password and TLS roots), and the replica settings that only PostgreSQL allows.

use super::checks::Checks;
use super::duration::ConfigDuration;
use crate::secret::Secret;
use reqwest::Url;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `state:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateConfig {
    /// SQLite file, created when missing (unless `url` is set).
    #[serde(default = "default_state_path")]
    pub path: PathBuf,
    /// `postgres://user@host:port/db`: a PostgreSQL server instead of the file (a secret: it may
    /// hold the password).
    #[serde(default)]
    pub url: Option<Secret>,
    /// The database password (or `password_file`, or in the URL).
    #[serde(default)]
    pub password: Option<Secret>,
    /// A file holding the database password.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Extra trusted roots for the server's certificate (`sslmode` in the URL says whether to check).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// History and ledger of jobs gone longer than this are pruned.
    #[serde(default = "default_retention")]
    pub retention: ConfigDuration,
}

/// `$STATE_DIRECTORY/nbwarden.db` when systemd gives the service a state directory (the first, if
/// it gives several), else `./nbwarden.db`.
fn default_state_path() -> PathBuf {
    state_path_under(std::env::var_os("STATE_DIRECTORY").as_deref())
}

/// `nbwarden.db` in the first of systemd's state directories, or in the working directory.
pub(super) fn state_path_under(directories: Option<&std::ffi::OsStr>) -> PathBuf {
    let first = directories.and_then(|dirs| dirs.to_str()?.split(':').next().filter(|d| !d.is_empty()));
    first.map_or_else(|| PathBuf::from("nbwarden.db"), |dir| PathBuf::from(dir).join("nbwarden.db"))
}

fn default_retention() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(30 * 86_400))
}

impl Default for StateConfig {
    fn default() -> Self {
        Self {
            path: default_state_path(),
            url: None,
            password: None,
            password_file: None,
            ca_file: None,
            retention: default_retention(),
        }
    }
}

impl StateConfig {
    /// The PostgreSQL server's URL as configured, when there is one.
    pub fn postgres(&self) -> Option<&str> {
        self.url.as_ref().map(Secret::expose)
    }

    /// The URL to connect with: the password and the CA file added (never log it).
    pub fn connect_url(&self) -> Option<Secret> {
        let mut url = Url::parse(self.postgres()?).ok()?;
        if let Some(password) = &self.password {
            url.set_password(Some(password.expose())).ok()?;
        }
        if let Some(ca) = &self.ca_file {
            url.query_pairs_mut().append_pair("sslrootcert", &ca.display().to_string());
        }
        Some(Secret::new(url.to_string()))
    }

    /// Where the state is, for people: the file, or the URL without its password.
    pub fn shown(&self) -> String {
        match self.postgres() {
            Some(url) => redacted(url),
            None => self.path.display().to_string(),
        }
    }

    pub(super) fn resolve(&mut self, base: &Path, checks: &mut Checks) {
        if self.path.is_relative() {
            self.path = base.join(&self.path);
        }
        if let Some(ca) = self.ca_file.as_mut().filter(|ca| ca.is_relative()) {
            *ca = base.join(&*ca);
        }
        super::read_secret_file(&mut self.password, self.password_file.take(), base, "state.password", checks);
    }
}

/// A database URL without its password (for messages, logs and `/status`).
pub fn redacted(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.to_string()
        }
        Err(_) => "(an unreadable state.url)".into(),
    }
}

/// `ha:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaConfig {
    /// This replica's name, unique among the replicas (default: the host name).
    #[serde(default)]
    pub replica: Option<String>,
    /// How long a target's lease lasts without renewal.
    #[serde(default = "default_lease_ttl")]
    pub lease_ttl: ConfigDuration,
}

fn default_lease_ttl() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(15))
}

impl HaConfig {
    /// The replica's name: as configured, or this machine's host name.
    pub fn replica_name(&self) -> String {
        match self.replica.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            Some(name) => name.to_string(),
            None => hostname::get().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "nbwarden".into()),
        }
    }
}

pub(super) fn validate(state: &StateConfig, ha: Option<&HaConfig>, checks: &mut Checks) {
    match state.postgres() {
        Some(url) => validate_url(url, state, checks),
        None => {
            for (set, key) in [(state.password.is_some(), "state.password"), (state.ca_file.is_some(), "state.ca_file")]
            {
                if set {
                    checks.add(key, format!("{key} is set but state.url is not; it is only for a PostgreSQL server"));
                }
            }
        }
    }
    let Some(ha) = ha else { return };
    if state.url.is_none() {
        checks.add(
            "ha",
            "ha needs a PostgreSQL state.url: replicas cannot share a SQLite file; set state.url: postgres://… or remove ha",
        );
    }
    if ha.lease_ttl.0 < Duration::from_secs(3) {
        checks.add(
            "ha.lease_ttl",
            format!("ha.lease_ttl {} is too short; give at least 3s (15s is usual)", ha.lease_ttl),
        );
    }
    if ha.replica.as_deref().is_some_and(|r| r.trim().is_empty() || r.len() > 200) {
        checks.add("ha.replica", "ha.replica must be a name of 1 to 200 characters (default: the host name)");
    }
}

fn validate_url(url: &str, state: &StateConfig, checks: &mut Checks) {
    let parsed = match Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => {
            let shown = redacted(url);
            return checks.add(
                "state.url",
                format!("state.url `{shown}` is not a URL ({e}); write postgres://user@host:5432/db"),
            );
        }
    };
    if !matches!(parsed.scheme(), "postgres" | "postgresql") || parsed.host_str().is_none_or(str::is_empty) {
        checks.add(
            "state.url",
            format!(
            "state.url `{}` is not a PostgreSQL URL; write postgres://user@host:5432/db (or use state.path for SQLite)",
            redacted(url)
        ),
        );
    }
    if parsed.password().is_some() && state.password.is_some() {
        checks.add("state.password", "state.url has a password and state.password is also set; keep one");
    }
    if let Some(ca) = state.ca_file.as_ref().filter(|ca| !ca.is_file()) {
        checks.add("state.ca_file", format!("state.ca_file {} is not a readable file", ca.display()));
    }
}

/// Why the SQLite state file cannot be written, if it cannot (`check`): the file when it exists,
/// else the nearest folder above it that does.
pub fn unwritable(state: &StateConfig) -> Option<String> {
    if state.postgres().is_some() {
        return None;
    }
    let path = &state.path;
    let existing = path.ancestors().find(|p| p.exists())?;
    // Tried, not judged from the mode bits: root passes those, a read-only mount does not.
    let writable = match existing.is_dir() {
        true => tempfile::NamedTempFile::new_in(existing).is_ok(),
        false => std::fs::OpenOptions::new().append(true).open(existing).is_ok(),
    };
    (!writable).then(|| {
        format!("state.path {}: {} cannot be written by this user; give nbwarden's user a folder of its own (systemd: StateDirectory=, which state.path follows by default)", path.display(), existing.display())
    })
}
