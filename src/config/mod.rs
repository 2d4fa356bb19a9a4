//! `nbwarden.yaml`: finding it, reading it strictly, interpolating `${VAR}`, reading `*_file`
//! secrets, resolving relative paths and checking what serde cannot. Every YAML call lives here.

mod auth;
mod cron;
pub mod duration;
mod model;
mod size;
mod state;

pub use auth::{AuthConfig, AuthError, AuthMethod};
pub use cron::{parse_cron, CronError};
pub use duration::{format_duration, ConfigDuration};
pub use model::*;
pub use size::ByteSize;
pub use state::{HaConfig, StateConfig};

use crate::secret::Secret;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

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
    /// The YAML is malformed, has an unknown key, a wrong type or an unset `${VAR}`.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: u64,
        /// 1-based column.
        column: u64,
        /// What is wrong.
        message: String,
    },
    /// The YAML parsed but describes something nbwarden cannot run; every problem is listed.
    #[error("{}", problems.iter().map(|p| format!("{}: {p}", path.display())).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// One line per problem.
        problems: Vec<String>,
    },
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

/// Reads, interpolates, resolves and checks the configuration at `path`.
pub fn load(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path).map_err(|cause| Error::Read { path: path.into(), cause })?;
    let mut config: Config = parse_yaml(path, &text)?;
    config.source = path.to_path_buf();
    let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut problems = Vec::new();
    resolve(&mut config, base, &mut problems);
    validate(&config, &mut problems);
    remember_secrets(&config);
    if problems.is_empty() {
        Ok(config)
    } else {
        // A value taken from the environment may be a secret: a problem never echoes it.
        let problems = problems.iter().map(|p| crate::secret::mask(p).into_owned()).collect();
        Err(Error::Invalid { path: path.into(), problems })
    }
}

/// Parses one YAML document strictly, with `${VAR}` / `${VAR:-default}` taken from the
/// environment. Used for the configuration, scenario and rule files alike.
pub fn parse_yaml<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    let env: HashMap<String, String> = std::env::vars().collect();
    remember_interpolated(text, &env);
    let options = serde_saphyr::Options::default().with_properties(env);
    serde_saphyr::from_str_with_options(text, options).map_err(|e| parse_error(path, text, &e))
}

/// Remembers as secret every environment value a `${VAR}` of `text` takes in: such values are
/// how secrets reach rules, so plugins mask them where they show their arguments.
fn remember_interpolated(text: &str, env: &HashMap<String, String>) {
    for (at, _) in text.match_indices("${") {
        let name: String = text[at + 2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if let Some(value) = env.get(&name) {
            crate::secret::remember(value);
        }
    }
}

/// Remembers the configured secrets, so that an `exec` argument that repeats one is masked.
fn remember_secrets(config: &Config) {
    let auth = config.targets.iter().flat_map(|t| [&t.auth.password, &t.auth.token]);
    let others = [&config.email.as_ref().and_then(|e| e.password.clone()), &config.state.password];
    for secret in auth.chain(others).flatten() {
        crate::secret::remember(secret.expose());
    }
}

fn parse_error(path: &Path, text: &str, err: &serde_saphyr::Error) -> Error {
    let (line, column) = err.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
    let options = serde_saphyr::render_options! { snippets: serde_saphyr::SnippetMode::Off };
    let rendered = err.without_snippet().render_with_options(options);
    let mut message = explain_property(strip_location_suffix(&rendered));
    // With `${VAR}` interpolation on, saphyr names an unknown key "an interpolated field";
    // its location is right, so the key is read from the text there.
    if let Some(key) = key_at(text, line, column).filter(|_| message.contains(INTERPOLATED)) {
        message = message.replace(INTERPOLATED, &key);
    }
    // A value taken from the environment may be a secret: an error never echoes it.
    let message = crate::secret::mask(&message).into_owned();
    Error::Parse { path: path.into(), line, column, message }
}

/// What serde-saphyr calls a key it read with interpolation on.
const INTERPOLATED: &str = "an interpolated field";

/// The mapping key written at 1-based `line`:`column` of `text`.
fn key_at(text: &str, line: u64, column: u64) -> Option<String> {
    let row = text.lines().nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let rest: String = row.chars().skip(usize::try_from(column).ok()?.saturating_sub(1)).collect();
    let key = rest.split(':').next()?.trim().trim_matches(|c| c == '"' || c == '\'');
    (!key.is_empty() && !key.contains(char::is_whitespace)).then(|| key.to_string())
}

/// saphyr appends " at line L column C"; the location is already in front of our message.
fn strip_location_suffix(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(i) => message[..i].trim_end(),
        None => message.trim_end(),
    }
}

/// saphyr says "missing property `X`"; an administrator thinks of environment variables.
fn explain_property(message: &str) -> String {
    match message.strip_prefix("missing property ") {
        Some(name) => format!("environment variable {name} is not set (export it, or write ${{VAR:-default}})"),
        None => message.to_string(),
    }
}

fn resolve(config: &mut Config, base: &Path, problems: &mut Vec<String>) {
    let rebase = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    };
    config.rules.iter_mut().for_each(rebase);
    config.state.resolve(base, problems);
    for target in &mut config.targets {
        let what = format!("target \"{}\"", target.name);
        if let Some(ca) = target.tls.ca_file.as_mut() {
            rebase(ca);
        }
        // The path stays: the client reads it again before a sign-in, so a rotated secret is used.
        if let Some(file) = target.auth.password_file.as_mut() {
            rebase(file);
        }
        read_secret_file(
            &mut target.auth.password,
            target.auth.password_file.clone(),
            base,
            &format!("{what}: auth.password"),
            problems,
        );
        read_secret_file(
            &mut target.auth.token,
            target.auth.token_file.take(),
            base,
            &format!("{what}: auth.token"),
            problems,
        );
    }
    if let Some(email) = config.email.as_mut() {
        if let Some(dir) = email.dir.as_mut() {
            rebase(dir);
        }
        read_secret_file(&mut email.password, email.password_file.take(), base, "email.password", problems);
    }
}

/// Moves the content of `<key>_file` into `<key>`; both given is an error.
pub(super) fn read_secret_file(
    slot: &mut Option<Secret>,
    file: Option<PathBuf>,
    base: &Path,
    key: &str,
    problems: &mut Vec<String>,
) {
    let Some(file) = file else { return };
    if slot.is_some() {
        problems.push(format!("{key} and {key}_file are both set; keep one"));
        return;
    }
    let path = if file.is_relative() { base.join(file) } else { file };
    match std::fs::read_to_string(&path) {
        Ok(text) => *slot = Some(Secret::new(text.trim())),
        Err(e) => problems.push(format!("{key}_file: cannot read {}: {e}", path.display())),
    }
}

fn validate(config: &Config, problems: &mut Vec<String>) {
    if config.targets.is_empty() {
        problems.push("no targets: add at least one entry under `targets:`".into());
    }
    let mut seen = HashSet::new();
    for target in &config.targets {
        validate_target(target, problems);
        if !seen.insert(target.name.as_str()) {
            problems.push(format!("target \"{}\" is defined twice; names must be unique", target.name));
        }
    }
    if let Some(email) = &config.email {
        validate_email(email, problems);
    }
    state::validate(&config.state, config.ha.as_ref(), problems);
    for (key, address) in config
        .owners
        .fallback
        .iter()
        .map(|a| ("owners.fallback", a))
        .chain(config.owners.map.values().map(|a| ("owners.map", a)))
    {
        if address.parse::<lettre::Address>().is_err() {
            problems.push(format!("{key}: `{address}` is not an e-mail address"));
        }
    }
}

fn validate_email(email: &EmailConfig, problems: &mut Vec<String>) {
    match email.from.as_deref().map(str::parse::<lettre::message::Mailbox>) {
        None => problems.push("email.from is required, e.g. \"nbwarden <nbwarden@example.com>\"".into()),
        Some(Err(e)) => problems.push(format!("email.from is not an address: {e}")),
        Some(Ok(_)) => {}
    }
    match email.transport {
        EmailTransport::Smtp if email.host.as_deref().is_none_or(str::is_empty) => {
            problems.push("email.host is required with transport: smtp".into())
        }
        EmailTransport::File if email.dir.is_none() => {
            problems.push("email.dir is required with transport: file (the folder for .eml files)".into())
        }
        _ => {}
    }
    if email.password.is_some() && email.username.is_none() {
        problems.push("email.password is set but email.username is not".into());
    }
    let relay = email.host.as_deref().unwrap_or_default();
    let credentials = email.username.is_some() || email.password.is_some();
    if email.transport == EmailTransport::Smtp
        && email.security == SmtpSecurity::None
        && credentials
        && !is_loopback_host(relay)
    {
        problems.push(format!("email.security: none would send the SMTP username and password in clear text to {relay}; use starttls or tls (a relay on a loopback address is exempt)"));
    }
}

fn validate_target(target: &TargetConfig, problems: &mut Vec<String>) {
    let name = &target.name;
    let valid_name = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid_name {
        problems.push(format!("target name \"{name}\" must match [a-z0-9_-]+"));
    }
    let mut check = |ok: bool, msg: String| {
        if !ok {
            problems.push(format!("target \"{name}\": {msg}"));
        }
    };
    check(is_http_url(&target.admin_url), format!("admin_url `{}` is not an http(s) URL", target.admin_url));
    if let Some(portal) = &target.auth.portal_url {
        check(is_http_url(portal), format!("auth.portal_url `{portal}` is not an http(s) URL"));
    }
    for (key, url) in [("admin_url", Some(&target.admin_url)), ("auth.portal_url", target.auth.portal_url.as_ref())] {
        if let Some(url) = url.filter(|u| !target.allow_insecure_http && in_clear(u)) {
            check(false, format!("{key} `{url}` would send the password and every token in clear text; use https://, or set allow_insecure_http: true on the target if the network path is trusted (loopback addresses are exempt)"));
        }
    }
    check(
        target.max_response.0 >= 1024,
        format!("max_response {} is too small; give at least 1KiB (256MiB is the default)", target.max_response),
    );
    if let Err(e) = target.auth_method() {
        check(false, format!("auth: {e}"));
    }
    check(!target.auth.referer.trim().is_empty(), "auth.referer must not be empty".into());
    let poll = &target.poll;
    check(!(poll.every.is_some() && poll.cron.is_some()), "poll: give either `every` or `cron`, not both".into());
    check(poll.every.is_none_or(|d| d.0.as_secs() >= 1), "poll.every must be at least 1s".into());
    if let Some(Err(e)) = poll.cron.as_deref().map(parse_cron) {
        check(false, format!("poll.cron: {e}"));
    }
    check(!poll.timeout.0.is_zero(), "poll.timeout must be more than 0s".into());
    check(poll.page_size > 0, "poll.page_size must be at least 1".into());
    let fraction = target.limits.max_cancel_fraction;
    check(fraction > 0.0 && fraction <= 1.0, format!("limits.max_cancel_fraction {fraction} must be in (0, 1]"));
    if let Some(tasks) = &target.tasks {
        check(tasks.every.0.as_secs() >= 1, "tasks.every must be at least 1s".into());
        if let Some(zone) = tasks.timezone.as_deref().filter(|z| z.parse::<chrono_tz::Tz>().is_err()) {
            check(false, format!("tasks.timezone: unknown time zone `{zone}` (e.g. Europe/Berlin)"));
        }
        let portal = target.auth.portal_url.is_some() || target.flavor == Flavor::Enterprise;
        check(portal, "tasks: reading scheduled tasks needs auth.portal_url (the portal's sharing API)".into());
    }
}

/// A plain `http://` URL whose host is not a loopback address.
pub fn in_clear(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| u.scheme() == "http" && !u.host_str().is_some_and(is_loopback_host))
}

/// `localhost`, or an IP address of the loopback interface (`127.0.0.0/8`, `::1`).
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn is_http_url(text: &str) -> bool {
    reqwest::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

#[cfg(test)]
mod tests;
