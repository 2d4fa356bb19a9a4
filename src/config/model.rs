//! The serde types of `nbwarden.yaml` (SPEC §2): strict, with the defaults an administrator expects.

use super::auth::AuthConfig;
use super::duration::ConfigDuration;
use super::size::ByteSize;
use super::state::{HaConfig, StateConfig};
use crate::secret::Secret;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The ArcGIS sites to watch.
    pub targets: Vec<TargetConfig>,
    /// Used by `email` actions.
    #[serde(default)]
    pub email: Option<EmailConfig>,
    /// How `owner` recipients become addresses.
    #[serde(default)]
    pub owners: OwnersConfig,
    /// The state store: an embedded SQLite file, or a PostgreSQL server.
    #[serde(default)]
    pub state: StateConfig,
    /// Several replicas sharing a PostgreSQL store, one holder per target.
    #[serde(default)]
    pub ha: Option<HaConfig>,
    /// The metrics/status endpoint.
    #[serde(default)]
    pub http: HttpConfig,
    /// A dead-man service (Healthchecks.io, Cronitor) told after each round of polls.
    #[serde(default)]
    pub heartbeat: Option<HeartbeatConfig>,
    /// Rule files and folders, relative to this file.
    #[serde(default = "default_rules")]
    pub rules: Vec<PathBuf>,
    /// Plan and record actions, never execute them.
    #[serde(default)]
    pub dry_run: bool,
    /// The file this configuration was read from (set by `load`).
    #[serde(skip)]
    pub source: PathBuf,
}

pub(super) fn default_rules() -> Vec<PathBuf> {
    vec![PathBuf::from("rules")]
}

/// Which admin API a target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    /// ArcGIS Enterprise (on Kubernetes) Administrator API, `<admin>/notebooks/jobs`.
    Enterprise,
    /// ArcGIS Notebook Server Administrator API, `<admin>/system/jobs`.
    NotebookServer,
}

impl Flavor {
    /// The spelling used in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Enterprise => "enterprise",
            Flavor::NotebookServer => "notebook-server",
        }
    }
}

/// One ArcGIS admin API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Unique, `[a-z0-9_-]+`.
    pub name: String,
    /// The admin API flavor.
    pub flavor: Flavor,
    /// `https://host/portal/admin` or `https://nb:11443/arcgis/admin`.
    pub admin_url: String,
    /// How to obtain a token.
    pub auth: AuthConfig,
    /// Extra trust roots and the escape hatch.
    #[serde(default)]
    pub tls: TlsConfig,
    /// When and how to poll.
    #[serde(default)]
    pub poll: PollConfig,
    /// Blast-radius limits for destructive actions.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// What no destructive action ever touches, whatever the rule.
    #[serde(default)]
    pub protect: ProtectConfig,
    /// Also watch the org's scheduled notebook tasks.
    #[serde(default)]
    pub tasks: Option<TasksConfig>,
    /// Also watch the open interactive notebooks (idle-notebook rules, `close_notebook`).
    #[serde(default)]
    pub notebooks: Option<NotebooksConfig>,
    /// The largest answer read from the site (a bigger one is a failed call).
    #[serde(default = "default_max_response")]
    pub max_response: ByteSize,
    /// Allow `http://` URLs that are not loopback: the password and tokens then travel in clear.
    #[serde(default)]
    pub allow_insecure_http: bool,
}

/// The default `max_response`.
pub const DEFAULT_MAX_RESPONSE: ByteSize = ByteSize(256 << 20);

fn default_max_response() -> ByteSize {
    DEFAULT_MAX_RESPONSE
}

/// `tasks:`: the org's scheduled notebook tasks, read on their own cadence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TasksConfig {
    /// How often the tasks are read (default 5m).
    #[serde(default = "default_tasks_every")]
    pub every: ConfigDuration,
    /// The zone the tasks' cron schedules are written in (default UTC).
    #[serde(default)]
    pub timezone: Option<super::zone::Zone>,
}

impl TasksConfig {
    /// The zone of the tasks' cron schedules (UTC unless `timezone` is given).
    pub fn zone(&self) -> chrono_tz::Tz {
        self.timezone.map_or(chrono_tz::UTC, |z| z.0)
    }
}

fn default_tasks_every() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(300))
}

/// `notebooks:`: the open interactive notebooks, read on their own cadence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotebooksConfig {
    /// How often the open notebooks are read (default 5m).
    #[serde(default = "default_tasks_every")]
    pub every: ConfigDuration,
}

/// `tls:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM bundle added to the trusted roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (logged as a warning at every start).
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

/// `poll:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollConfig {
    /// Interval between polls (default 30s when `cron` is not given).
    pub every: Option<ConfigDuration>,
    /// A crontab line instead of `every`.
    pub cron: Option<String>,
    /// Per-request timeout.
    #[serde(default = "default_poll_timeout")]
    pub timeout: ConfigDuration,
    /// Enterprise 12.1+: ask for `details=true`.
    #[serde(default)]
    pub details: bool,
    /// Notebook Server: `num`.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
}

fn default_poll_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(20))
}

fn default_page_size() -> u32 {
    1000
}

impl Default for PollConfig {
    fn default() -> Self {
        Self {
            every: None,
            cron: None,
            timeout: default_poll_timeout(),
            details: false,
            page_size: default_page_size(),
        }
    }
}

impl PollConfig {
    /// The interval, when polling is interval-based.
    pub fn interval(&self) -> Duration {
        self.every.map(|d| d.0).unwrap_or(Duration::from_secs(30))
    }

    /// The time between two regular polls: `every`, or the gap between the next two slots of
    /// `cron` after `now`.
    pub fn nominal_interval(&self, now: crate::clock::LocalMs) -> Duration {
        match self.cron.as_deref().map(super::parse_cron) {
            Some(Ok(cron)) => super::cron::gap(&cron, now),
            _ => self.interval(),
        }
    }
}

/// `protect:`: users, notebook items and titles (globs) that no rule cancels or closes. Their jobs
/// are still watched and e-mailed about.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectConfig {
    /// Usernames, e.g. `svc_*`.
    #[serde(default)]
    pub users: Vec<String>,
    /// Notebook item ids.
    #[serde(default)]
    pub items: Vec<String>,
    /// Notebook titles, e.g. `Nightly *`.
    #[serde(default)]
    pub titles: Vec<String>,
}

/// `limits:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Cancels allowed in one poll.
    #[serde(default = "default_per_poll")]
    pub max_cancels_per_poll: u32,
    /// Cancels allowed in a sliding hour.
    #[serde(default = "default_per_hour")]
    pub max_cancels_per_hour: u32,
    /// Largest share of the running jobs cancelled in one poll (one job is always allowed).
    #[serde(default = "default_fraction")]
    pub max_cancel_fraction: f64,
    /// Notebooks closed in one read of the open notebooks.
    #[serde(default = "default_closes_per_poll")]
    pub max_closes_per_poll: u32,
    /// Notebooks closed in a sliding hour.
    #[serde(default = "default_closes_per_hour")]
    pub max_closes_per_hour: u32,
}

fn default_closes_per_poll() -> u32 {
    5
}
fn default_closes_per_hour() -> u32 {
    20
}

fn default_per_poll() -> u32 {
    10
}
fn default_per_hour() -> u32 {
    60
}
fn default_fraction() -> f64 {
    0.5
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_cancels_per_poll: default_per_poll(),
            max_cancels_per_hour: default_per_hour(),
            max_cancel_fraction: default_fraction(),
            max_closes_per_poll: default_closes_per_poll(),
            max_closes_per_hour: default_closes_per_hour(),
        }
    }
}

/// How e-mail leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EmailTransport {
    /// An SMTP relay.
    #[default]
    Smtp,
    /// One `.eml` file per message in `dir`.
    File,
    /// The local `sendmail` program.
    Sendmail,
}

/// SMTP connection security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS.
    #[default]
    Starttls,
    /// Implicit TLS.
    Tls,
    /// No encryption (loopback relays only).
    None,
}

/// `email:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// smtp | file | sendmail.
    #[serde(default)]
    pub transport: EmailTransport,
    /// SMTP host.
    pub host: Option<String>,
    /// SMTP port (default by security).
    pub port: Option<u16>,
    /// starttls | tls | none.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// SMTP user.
    pub username: Option<String>,
    /// SMTP password.
    pub password: Option<Secret>,
    /// A file holding the SMTP password.
    pub password_file: Option<PathBuf>,
    /// The From header.
    pub from: Option<String>,
    /// Folder for the file transport.
    pub dir: Option<PathBuf>,
    /// Bound on one send.
    pub timeout: Option<ConfigDuration>,
}

/// How owners are looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OwnerLookup {
    /// Portal `community/users/<username>`.
    #[default]
    Portal,
    /// Only `map` and `fallback`.
    None,
}

/// `owners:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnersConfig {
    /// portal | none.
    #[serde(default)]
    pub lookup: OwnerLookup,
    /// How long a looked-up address is reused.
    #[serde(default = "default_cache_for")]
    pub cache_for: ConfigDuration,
    /// Address used when an owner has none.
    pub fallback: Option<String>,
    /// Explicit username → address entries.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// Who owners may ask about nbwarden's messages (an address or a team), named in their letters.
    pub contact: Option<String>,
}

fn default_cache_for() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(3600))
}

impl Default for OwnersConfig {
    fn default() -> Self {
        Self {
            lookup: OwnerLookup::Portal,
            cache_for: default_cache_for(),
            fallback: None,
            map: BTreeMap::new(),
            contact: None,
        }
    }
}

/// `heartbeat:`: a GET on `url` after a round of polls in which a target answered, at most every
/// `every`; on `<url>/fail` when every target failed. Someone learns that nbwarden stopped, even
/// when the whole host is down.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatConfig {
    /// The ping URL (a secret: it names the check).
    pub url: String,
    /// How often (default 5m).
    #[serde(default = "default_heartbeat_every")]
    pub every: ConfigDuration,
}

fn default_heartbeat_every() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(300))
}

/// `http:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address of `/metrics`, `/healthz`, `/status`; empty disables.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Host names requests may name besides IP literals and `localhost` (DNS rebinding).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Show e-mail recipients and program output on `/status`.
    #[serde(default)]
    pub show_details: bool,
    /// Where people open `/status` (behind a proxy, say), for the links of chat messages and
    /// alerts; by default `http://<listen>/status`.
    pub url: Option<String>,
}

impl HttpConfig {
    /// The `/status` address links point to, if any.
    pub fn status_url(&self) -> Option<String> {
        let listen = self.listen.trim();
        self.url.clone().or_else(|| (!listen.is_empty()).then(|| format!("http://{listen}/status")))
    }
}

fn default_listen() -> String {
    "127.0.0.1:9187".into()
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { listen: default_listen(), hosts: Vec::new(), show_details: false, url: None }
    }
}
