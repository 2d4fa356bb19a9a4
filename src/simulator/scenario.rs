//! Scenario files of the simulator: users, token rules, job timelines and injected faults.

use crate::config::{ConfigDuration, Flavor};
use serde::{de, Deserialize, Deserializer};
use std::time::Duration;

/// A whole scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Default flavor when `--flavor` is not given.
    pub flavor: Option<Flavor>,
    /// Longest token the site issues (a request for more gets this).
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime: ConfigDuration,
    /// Server clock minus real time (signed, e.g. `-10m`).
    #[serde(default)]
    pub clock_offset: Offset,
    /// Accounts that may sign in.
    #[serde(default = "default_users")]
    pub users: Vec<User>,
    /// Jobs and their timelines.
    #[serde(default)]
    pub jobs: Vec<JobPlan>,
    /// Injected faults.
    #[serde(default)]
    pub faults: Vec<Fault>,
    /// Scheduled notebook tasks (Portal's `allScheduledTasks`).
    #[serde(default)]
    pub tasks: Vec<super::site::tasks::TaskPlan>,
    /// Open interactive notebooks.
    #[serde(default)]
    pub notebooks: Vec<super::site::notebooks::NotebookPlan>,
    /// Notebook items (Portal's `content/items/<id>`): their titles and owners.
    #[serde(default)]
    pub items: Vec<ItemPlan>,
    /// Enterprise: list items without `username`, as an older documentation page shows them.
    #[serde(default)]
    pub list_without_username: bool,
    /// The admin root's version (default: 12.1 for enterprise, 11.3 for notebook-server).
    /// Enterprise below 11.5 has no cancel operation.
    pub version: Option<String>,
    /// Under which name the admin root gives the version (default: `version` on Notebook Server
    /// 12.1 and later, as Esri's recorded output shows; `currentVersion` otherwise).
    #[serde(default)]
    pub version_field: Option<VersionField>,
    /// Error envelopes come with their code as the HTTP status (403, 404, 498, 499, 500), as some
    /// gateways send them, instead of ArcGIS' HTTP 200.
    #[serde(default)]
    pub http_errors: bool,
    /// `maxExecuteNotebookTimeMinutes` of `notebooks/configuration` (enterprise) or
    /// `system/properties` (notebook-server); default 120.
    #[serde(default = "default_max_execute")]
    pub max_execute_minutes: u64,
}

fn default_max_execute() -> u64 {
    120
}

fn default_token_lifetime() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(3600))
}

fn default_users() -> Vec<User> {
    vec![User {
        username: "admin".into(),
        password: "simulator".into(),
        email: None,
        admin: true,
        role: None,
        privileges: Vec::new(),
        locked: false,
    }]
}

/// A notebook item of the simulated Portal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemPlan {
    /// Its id, as jobs name it in `inputs.itemId`.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its owner.
    pub owner: String,
    /// Shared with nobody: only its owner and administrators see it; others are told that it
    /// "does not exist or is inaccessible", as Portal says.
    #[serde(default)]
    pub private: bool,
}

/// An account of the simulated Portal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Account name.
    pub username: String,
    /// Its password (the simulator is a test double: plain text here is fine).
    #[serde(default)]
    pub password: String,
    /// Its e-mail, shown by `community/users/<name>`.
    pub email: Option<String>,
    /// A full administrator (`role: org_admin`) unless `role` says otherwise.
    #[serde(default = "yes")]
    pub admin: bool,
    /// `portals/self` `user.role`: `org_admin`, `org_publisher`, `org_user` (default from `admin`).
    pub role: Option<String>,
    /// `user.privileges` of a custom role; any `portal:admin:` one makes the user an administrator.
    #[serde(default)]
    pub privileges: Vec<String>,
    /// Locked from the start (as after 5 refused sign-ins), for 15 minutes of the site's clock.
    #[serde(default)]
    pub locked: bool,
}

impl User {
    /// The role `portals/self` reports.
    pub fn role(&self) -> &str {
        self.role.as_deref().unwrap_or(if self.admin { "org_admin" } else { "org_user" })
    }

    /// Sees every job and may use the admin API: `org_admin`, or any `portal:admin:` privilege.
    pub fn is_admin(&self) -> bool {
        self.role() == "org_admin" || self.privileges.iter().any(|p| p.starts_with("portal:admin:"))
    }
}

fn yes() -> bool {
    true
}

/// The admin root's name for its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionField {
    /// `currentVersion`.
    CurrentVersion,
    /// `fullVersion`.
    FullVersion,
    /// `version`.
    Version,
}

/// How a job ends when nobody cancels it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// COMPLETED.
    #[default]
    Completed,
    /// FAILED.
    Failed,
}

/// One job's timeline, relative to the simulator's start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobPlan {
    /// jobId (generated when absent).
    pub id: Option<String>,
    /// executeNotebook, openNotebook, …
    #[serde(rename = "type", default = "default_type")]
    pub job_type: String,
    /// Owner.
    pub username: Option<String>,
    /// When it is submitted; negative means before the simulator started.
    #[serde(default)]
    pub start: Offset,
    /// Time spent SUBMITTED before it executes.
    #[serde(default)]
    pub queued: ConfigDuration,
    /// Time spent executing; absent means it never ends by itself.
    pub runs: Option<ConfigDuration>,
    /// How it ends.
    #[serde(default)]
    pub ends: Ending,
    /// Whether a cancel stops it.
    #[serde(default = "yes")]
    pub obeys_cancel: bool,
    /// Finished jobs leave the list this long after they end (the job resource still answers).
    pub vanish_after: Option<ConfigDuration>,
    /// inputs.itemId.
    pub item_id: Option<String>,
    /// notebookRuntimeName.
    pub runtime_name: Option<String>,
    /// inputs.taskId (a scheduled task started it).
    pub task_id: Option<String>,
    /// inputs.executionTimeoutInMinutes.
    pub timeout_minutes: Option<u64>,
    /// `messages` of the job resource (a failed job gets a Python traceback when absent).
    pub messages: Option<Vec<String>>,
}

fn default_type() -> String {
    "executeNotebook".into()
}

/// Which calls a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// The job list.
    List,
    /// One job.
    Job,
    /// A cancel.
    Cancel,
    /// generateToken.
    Token,
    /// community/users.
    User,
    /// Everything.
    Any,
}

/// What a fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// An HTTP error status with a short text body.
    HttpError,
    /// An HTML error page, as a proxy sends.
    Html,
    /// The real answer cut in half.
    Truncated,
    /// The real answer after `delay`.
    Slow,
    /// No answer at all.
    Hang,
    /// A 498 invalid-token envelope, as when a token expires early.
    InvalidToken,
    /// HTTP 401 with an HTML sign-in page, as a proxy, a Web Adaptor or IWA in front of the site sends.
    Unauthorized,
}

/// One injected fault, counted over the requests that match `on`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// Which calls.
    pub on: Route,
    /// What happens.
    pub kind: FaultKind,
    /// Matching requests let through first.
    #[serde(default)]
    pub after: u32,
    /// Matching requests affected (default: all that follow).
    pub count: Option<u32>,
    /// HTTP status of `http_error` / `html` (default 503 / 502).
    pub status: Option<u16>,
    /// Delay of `slow`.
    #[serde(default)]
    pub delay: ConfigDuration,
}

/// A signed offset such as `-89m30s` or `10s`, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offset(pub i64);

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let (sign, rest) = match text.trim().strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, text.trim().trim_start_matches('+')),
        };
        let magnitude: ConfigDuration = rest.parse().map_err(de::Error::custom)?;
        Ok(Offset(sign * magnitude.0.as_millis() as i64))
    }
}

/// The scenario served without `--scenario`: a few minutes of a lively site.
pub const BUILTIN: &str = include_str!("builtin.yaml");

impl Scenario {
    /// The built-in scenario.
    pub fn builtin() -> Scenario {
        crate::config::parse_yaml(std::path::Path::new("builtin.yaml"), BUILTIN).expect("the built-in scenario parses")
    }

    /// Reads a scenario file: YAML, or JSON (`.json`) for scenarios too large for the YAML
    /// reader's node budget (a benchmark's 100,000 jobs).
    pub fn load(path: &std::path::Path) -> Result<Scenario, crate::config::Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|cause| crate::config::Error::Read { path: path.to_path_buf(), cause })?;
        if path.extension().is_some_and(|e| e == "json") {
            return serde_json::from_str(&text).map_err(|e| {
                let at = crate::config::yaml::At { line: e.line() as u64, column: e.column() as u64 };
                let problems = vec![crate::config::Problem::at(at, e.to_string())];
                crate::config::Error::Invalid { path: path.to_path_buf(), problems }
            });
        }
        crate::config::parse_yaml(path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_scenario_parses() {
        let scenario = Scenario::builtin();
        assert!(scenario.jobs.len() >= 8);
        assert!(scenario.users.iter().any(|u| u.admin && u.username == "admin"));
    }

    #[test]
    fn json_scenarios_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, r#"{"jobs": [{"id": "j1", "start": "-2h", "runs": "1m", "ends": "failed"}]}"#).unwrap();
        let scenario = Scenario::load(&path).unwrap();
        assert_eq!(scenario.jobs[0].id.as_deref(), Some("j1"));
        std::fs::write(&path, "{ not json").unwrap();
        assert!(Scenario::load(&path).is_err());
    }

    #[test]
    fn offsets_are_signed() {
        let plan: JobPlan = crate::config::yaml::from_str("start: -89m30s\nruns: 2h\n").unwrap();
        assert_eq!(plan.start, Offset(-(89 * 60 + 30) * 1000));
        assert_eq!(plan.runs.unwrap().0.as_secs(), 7200);
    }
}
