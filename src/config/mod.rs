//! `nbwarden.yaml`: finding it, reading it strictly (`yaml`: every scalar interpolated, every
//! mistake located), reading `*_file` secrets, resolving relative paths and checking what serde
//! cannot (`checks`). Every YAML call of the program lives under here.

mod auth;
mod checks;
mod cron;
pub mod duration;
mod model;
mod size;
mod state;
mod target;
pub mod yaml;
mod zone;

pub use auth::{AuthConfig, AuthError, AuthMethod};
pub use cron::{gap, parse_cron, CronError};
pub use duration::{format_duration, ConfigDuration};
pub use model::*;
pub use size::ByteSize;
pub use state::{unwritable, HaConfig, StateConfig};
pub use zone::{parse_zone, UnknownZone, Zone};

use crate::secret::Secret;
use checks::Checks;
pub use checks::{in_clear, is_loopback_host};
use std::path::{Path, PathBuf};
pub use yaml::Problem;

/// What can go wrong while loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No file was given and none was found where nbwarden looks.
    #[error("no configuration file found (looked for {looked}); pass --config FILE or set NBWARDEN_CONFIG")]
    NotFound {
        /// The places tried, in order.
        looked: String,
    },
    /// The file exists but cannot be read.
    #[error("cannot read {}: {cause}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause (in the message, so not also a `source`).
        cause: std::io::Error,
    },
    /// The file is not what nbwarden can run: every problem, each located when it can be.
    #[error("{}", problems.iter().map(|p| format!("{}:{p}", path.display())).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

impl Error {
    /// The problems of an invalid file (none for a file that could not be found or read).
    pub fn problems(&self) -> &[Problem] {
        match self {
            Error::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

/// Result of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "NBWARDEN_CONFIG";

/// Finds the configuration file: `--config`, then `$NBWARDEN_CONFIG`, then `./nbwarden.yaml`.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os(CONFIG_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let local = PathBuf::from("nbwarden.yaml");
    if local.exists() {
        return Ok(local);
    }
    Err(Error::NotFound { looked: format!("--config, ${CONFIG_ENV}, ./nbwarden.yaml") })
}

/// Reads, interpolates, resolves and checks the configuration at `path`; every problem at once.
pub fn load(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path).map_err(|cause| Error::Read { path: path.into(), cause })?;
    parse(path, &text)
}

/// The configuration written as `text`, read from `path` (which names it in errors and anchors
/// its relative paths); every problem at once.
pub fn parse(path: &Path, text: &str) -> Result<Config> {
    let invalid = |problems: Vec<Problem>| Error::Invalid { path: path.into(), problems: masked(problems) };
    let (doc, mut problems) = yaml::read(text).map_err(invalid)?;
    let (config, mut found) = yaml::deserialize_partial::<Config>(doc.clone());
    problems.append(&mut found);
    let Some(mut config) = config else { return Err(invalid(sorted(problems))) };
    config.source = path.to_path_buf();
    let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut checks = Checks::new(&doc);
    resolve(&mut config, base, &mut checks);
    checks::validate(&config, &mut checks);
    problems.append(&mut checks.found);
    if !problems.is_empty() {
        return Err(invalid(sorted(problems)));
    }
    remember_secrets(&config);
    Ok(config)
}

/// `problems` in the order of the file.
fn sorted(mut problems: Vec<Problem>) -> Vec<Problem> {
    problems.sort_by_key(|p| (p.at.line, p.at.column));
    problems
}

/// What `check` can still tell of a configuration that does not load: the rule paths and the
/// targets' names and flavors, as written.
#[derive(Debug, Default)]
pub struct Sketch {
    /// `rules:`, resolved against the file's folder (the default when not given).
    pub rules: Vec<PathBuf>,
    /// Each target's name and, when readable, flavor.
    pub targets: Vec<(String, Option<Flavor>)>,
}

/// The sketch of the configuration at `path` (empty when it cannot even be parsed).
pub fn sketch(path: &Path) -> Sketch {
    let Some((doc, _)) = std::fs::read_to_string(path).ok().and_then(|text| yaml::read(&text).ok()) else {
        return Sketch::default();
    };
    let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let rules: Vec<PathBuf> = match doc.get("rules").map(|n| &n.value) {
        Some(yaml::Value::Seq(items)) => items.iter().filter_map(|n| n.text()).map(PathBuf::from).collect(),
        _ => model::default_rules(),
    };
    let targets = match doc.get("targets").map(|n| &n.value) {
        Some(yaml::Value::Seq(items)) => items
            .iter()
            .filter_map(|t| {
                let flavor = t.get("flavor").and_then(|f| yaml::deserialize_all::<Flavor>(f.clone()).ok());
                Some((t.get("name")?.text()?.to_string(), flavor))
            })
            .collect(),
        _ => Vec::new(),
    };
    Sketch { rules: rules.into_iter().map(|r| base.join(r)).collect(), targets }
}

/// Parses one YAML document strictly, with `${VAR}` / `${VAR:-default}` taken from the
/// environment in every scalar. Used for scenario, rule test and other files; every problem is
/// listed, each located.
pub fn parse_yaml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    yaml::from_str(text).map_err(|problems| Error::Invalid { path: path.into(), problems: masked(problems) })
}

/// A value taken from the environment may be a secret: a problem never echoes it.
fn masked(problems: Vec<Problem>) -> Vec<Problem> {
    problems.into_iter().map(|p| Problem { message: crate::secret::mask(&p.message).into_owned(), ..p }).collect()
}

/// Remembers the configured secrets, so that an `exec` argument that repeats one is masked.
fn remember_secrets(config: &Config) {
    let auth = config.targets.iter().flat_map(|t| [&t.auth.password, &t.auth.token]);
    let others = [&config.email.as_ref().and_then(|e| e.password.clone()), &config.state.password];
    for secret in auth.chain(others).flatten() {
        crate::secret::remember(secret.expose());
    }
}

fn resolve(config: &mut Config, base: &Path, checks: &mut Checks) {
    let rebase = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    };
    config.rules.iter_mut().for_each(rebase);
    config.state.resolve(base, checks);
    for (index, target) in config.targets.iter_mut().enumerate() {
        if let Some(ca) = target.tls.ca_file.as_mut() {
            rebase(ca);
        }
        // The path stays: the client reads it again before a sign-in, so a rotated secret is used.
        if let Some(file) = target.auth.password_file.as_mut() {
            rebase(file);
        }
        let at = |key: &str| format!("targets.{index}.auth.{key}");
        let file = target.auth.password_file.clone();
        read_secret_file(&mut target.auth.password, file, base, &at("password"), checks);
        read_secret_file(&mut target.auth.token, target.auth.token_file.take(), base, &at("token"), checks);
    }
    if let Some(email) = config.email.as_mut() {
        if let Some(dir) = email.dir.as_mut() {
            rebase(dir);
        }
        read_secret_file(&mut email.password, email.password_file.take(), base, "email.password", checks);
    }
}

/// Moves the content of `<key>_file` into `<key>` (`key` is the dotted path of the secret); both
/// given is a problem.
fn read_secret_file(slot: &mut Option<Secret>, file: Option<PathBuf>, base: &Path, key: &str, checks: &mut Checks) {
    let Some(file) = file else { return };
    let shown = key.rsplit('.').next().unwrap_or(key);
    if slot.is_some() {
        checks.add(key, format!("{shown} and {shown}_file are both set; keep one"));
        return;
    }
    let path = if file.is_relative() { base.join(file) } else { file };
    match std::fs::read_to_string(&path) {
        Ok(text) => *slot = Some(Secret::new(text.trim())),
        Err(e) => checks.add(&format!("{key}_file"), format!("{shown}_file: cannot read {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests;
