//! The simulated site's state: jobs along their timelines, cancels, tokens and counters.
//! Pure: every method takes `now` (epoch ms on the simulated server's clock).

use super::scenario::{Ending, JobPlan, Scenario, User};
use crate::config::Flavor;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// An error answer: code and message, rendered in the envelope of the endpoint's family.
pub type Refusal = (i64, String);

/// What a list call asked for.
#[derive(Debug, Clone, Copy)]
pub struct ListQuery {
    /// Enterprise `details=true` (12.1+), Notebook Server `detail=true`.
    pub details: bool,
    /// Notebook Server `num` (default 100).
    pub num: usize,
    /// Notebook Server `sortByDate=true`: newest first.
    pub newest_first: bool,
}

/// The answer to a caller without the privilege.
pub const FORBIDDEN: &str = "You do not have permissions to access this resource or perform this operation.";

/// The state of one simulated site.
#[derive(Debug)]
pub struct Site {
    /// Which admin API is served.
    pub flavor: Flavor,
    users: Vec<User>,
    token_lifetime_ms: i64,
    started_ms: i64,
    jobs: Vec<SimJob>,
    tasks: Vec<tasks::TaskPlan>,
    notebooks: Vec<notebooks::SimNotebook>,
    items: Vec<super::scenario::ItemPlan>,
    tokens: HashMap<String, Grant>,
    issued: u64,
    list_without_username: bool,
    /// The admin root's version.
    pub version: String,
    /// Under which name the admin root gives it.
    version_field: super::scenario::VersionField,
    /// `maxExecuteNotebookTimeMinutes`.
    pub max_execute_minutes: u64,
    /// Errors with their code as the HTTP status.
    pub http_errors: bool,
    /// Refused sign-ins per account (site clock), and until when each account is locked.
    refusals: HashMap<String, Vec<i64>>,
    locked_until: HashMap<String, i64>,
    /// What happened, for tests and `/__simulator/stats`.
    pub stats: Stats,
}

/// Refused sign-ins within this window lock an account (Portal and ArcGIS Server policy).
pub const LOCKOUT_WINDOW_MS: i64 = 15 * 60_000;
/// Refused sign-ins within the window that lock the account.
pub const LOCKOUT_AFTER: usize = 5;
/// What a locked account is told, whatever its password.
pub const LOCKED_MESSAGE: &str = "Too many invalid attempts. Please try again later.";

#[derive(Debug)]
struct SimJob {
    plan: JobPlan,
    id: String,
    cancelled_at: Option<i64>,
    ended: Option<(i64, Ending)>,
}

#[derive(Debug)]
struct Grant {
    username: String,
    referer: Option<String>,
    expires_ms: i64,
}

/// Counters of what the site was asked.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Stats {
    /// When the site started (its clock, epoch ms): scenario times count from here.
    pub started_ms: i64,
    /// Successful sign-ins.
    pub logins: u32,
    /// Refused sign-ins (a locked account's attempts included).
    pub failed_logins: u32,
    /// When each refused sign-in came (the site's clock, epoch ms).
    pub refused_at: Vec<i64>,
    /// Times an account was locked by refused sign-ins.
    pub lockouts: u32,
    /// Sign-ins at `<portal>/sharing/rest/generateToken` (the others went to `<admin>/generateToken`).
    pub portal_logins: u32,
    /// Cancel calls per job id (accepted or not).
    pub cancels: BTreeMap<String, u32>,
    /// List calls.
    pub lists: u32,
    /// `community/users/<name>` look-ups.
    pub user_lookups: u32,
    /// `content/items/<id>` reads.
    pub item_reads: u32,
    /// Reads of a task's runs, per task id.
    pub task_run_reads: BTreeMap<String, u32>,
    /// `closeNotebook` calls per notebook id (accepted or not).
    pub closes: BTreeMap<String, u32>,
    /// Reads of one open notebook.
    pub notebook_reads: u32,
    /// Reads of `<jobs>/<id>` per job id.
    pub job_reads: BTreeMap<String, u32>,
    /// When each job was first asked to cancel (the site's clock, epoch ms).
    pub first_cancel_ms: BTreeMap<String, i64>,
    /// The last list and cancel calls: (the site's clock, "list" or "cancel <job>", the caller's
    /// Referer), so that tests see which replica called.
    pub calls: std::collections::VecDeque<(i64, String, String)>,
}

/// Calls kept in [`Stats::calls`].
pub const CALLS_KEPT: usize = 20_000;

/// A job's state at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct JobState {
    /// The job's id.
    pub id: String,
    /// Submitted at.
    pub start_ms: i64,
    /// Ended at, if it has.
    pub end_ms: Option<i64>,
    /// The status spelling of the flavor.
    pub status: &'static str,
    /// Cancelled (Notebook Server shows FAILED with isCancelled).
    pub cancelled: bool,
    /// Still in the list.
    pub listed: bool,
}

impl Site {
    /// A site that starts at `started_ms`.
    pub fn new(scenario: &Scenario, flavor: Flavor, started_ms: i64) -> Site {
        let jobs = scenario
            .jobs
            .iter()
            .enumerate()
            .map(|(i, plan)| SimJob {
                id: plan.id.clone().unwrap_or_else(|| format!("jsim{i:04}{:x}", started_ms % 0xffff)),
                plan: plan.clone(),
                cancelled_at: None,
                ended: None,
            })
            .collect();
        Site {
            flavor,
            users: scenario.users.clone(),
            token_lifetime_ms: scenario.token_lifetime.0.as_millis() as i64,
            started_ms,
            jobs,
            tasks: scenario.tasks.clone(),
            notebooks: scenario.notebooks.iter().cloned().map(notebooks::SimNotebook::new).collect(),
            items: scenario.items.clone(),
            tokens: HashMap::new(),
            issued: 0,
            list_without_username: scenario.list_without_username,
            version: scenario
                .version
                .clone()
                .unwrap_or_else(|| if flavor == Flavor::Enterprise { "12.1" } else { "11.3" }.to_string()),
            version_field: scenario.version_field.unwrap_or(match flavor {
                Flavor::NotebookServer if release_at_least(scenario.version.as_deref().unwrap_or("11.3"), (12, 1)) => {
                    super::scenario::VersionField::Version
                }
                _ => super::scenario::VersionField::CurrentVersion,
            }),
            max_execute_minutes: scenario.max_execute_minutes,
            http_errors: scenario.http_errors,
            refusals: HashMap::new(),
            locked_until: scenario
                .users
                .iter()
                .filter(|u| u.locked)
                .map(|u| (u.username.clone(), started_ms + LOCKOUT_WINDOW_MS))
                .collect(),
            stats: Stats { started_ms, ..Stats::default() },
        }
    }

    /// Adds a job while the site runs (tests).
    pub fn add_job(&mut self, plan: JobPlan) {
        let id = plan.id.clone().unwrap_or_else(|| format!("jsimadded{}", self.jobs.len()));
        self.jobs.push(SimJob { plan, id, cancelled_at: None, ended: None });
    }

    /// Ends a job that has not ended yet, now, the way given (tests and demos).
    pub fn end_job(&mut self, id: &str, ending: Ending, now: i64) -> bool {
        let open = self.find(id, now).is_ok_and(|(_, state)| state.end_ms.is_none());
        match self.jobs.iter_mut().find(|j| j.id == id) {
            Some(job) if open => {
                job.ended = Some((now, ending));
                true
            }
            _ => false,
        }
    }

    /// Forgets every token, as a server restart or an early expiry does.
    pub fn revoke_tokens(&mut self) {
        self.tokens.clear();
    }

    /// Where a job is at `now`; `None` before it is submitted.
    fn state(&self, job: &SimJob, now: i64) -> Option<JobState> {
        let plan = &job.plan;
        let start_ms = self.started_ms + plan.start.0;
        if now < start_ms {
            return None;
        }
        let exec_start = start_ms + plan.queued.0.as_millis() as i64;
        let natural_end = plan.runs.map(|r| exec_start + r.0.as_millis() as i64).filter(|&e| e <= now);
        let (natural_end, ending) = match job.ended {
            Some((at, ending)) if natural_end.is_none_or(|e| at < e) => (Some(at).filter(|&a| a <= now), ending),
            _ => (natural_end, plan.ends),
        };
        let running = if self.flavor == Flavor::Enterprise { "EXECUTING" } else { "PROCESSING" };
        let (status, end_ms, cancelled) = match (job.cancelled_at, natural_end) {
            (Some(at), _) if self.flavor == Flavor::Enterprise => ("CANCELLED", Some(at), true),
            (Some(at), _) => ("FAILED", Some(at), true),
            (None, Some(end)) if ending == Ending::Failed => ("FAILED", Some(end), false),
            (None, Some(end)) => ("COMPLETED", Some(end), false),
            (None, None) if now < exec_start => ("SUBMITTED", None, false),
            (None, None) => (running, None, false),
        };
        let vanish = plan.vanish_after.map(|v| v.0.as_millis() as i64);
        let listed = match (end_ms, vanish) {
            (Some(end), Some(v)) => now < end + v,
            _ => true,
        };
        Some(JobState { id: job.id.clone(), start_ms, end_ms, status, cancelled, listed })
    }

    /// The states of every submitted job (tests and the demo).
    pub fn states(&self, now: i64) -> Vec<JobState> {
        self.jobs.iter().filter_map(|j| self.state(j, now)).collect()
    }

    /// One job's resource (it answers after the job left the list), with its `messages`.
    pub fn job(&mut self, id: &str, now: i64, caller: &User) -> Result<Value, Refusal> {
        *self.stats.job_reads.entry(id.to_string()).or_default() += 1;
        let (job, state) = self.find_for(id, now, caller)?;
        let mut item = match self.flavor {
            Flavor::Enterprise => {
                let mut item = detailed_item(job, &state);
                item["status"] = json!(state.status);
                item
            }
            Flavor::NotebookServer => classic_item(job, &state),
        };
        item["messages"] = json!(messages(job, &state));
        Ok(item)
    }

    /// Cancels a job that has not ended; a job that ignores cancel keeps running. Enterprise
    /// below 11.5 has no cancel operation: "No resource".
    pub fn cancel(&mut self, id: &str, now: i64, caller: &User) -> Result<(), Refusal> {
        *self.stats.cancels.entry(id.to_string()).or_default() += 1;
        self.stats.first_cancel_ms.entry(id.to_string()).or_insert(now);
        if self.flavor == Flavor::Enterprise && !release_at_least(&self.version, (11, 5)) {
            return Err((404, "No resource".into()));
        }
        let (_, state) = self.find_for(id, now, caller)?;
        if state.end_ms.is_some() {
            return Err((500, format!("Unable to cancel job :[{id}]")));
        }
        if let Some(job) = self.jobs.iter_mut().find(|j| j.id == id && j.plan.obeys_cancel) {
            job.cancelled_at = Some(now);
        }
        Ok(())
    }

    /// `community/users/<name>`: the e-mail is shown to administrators and the user.
    pub fn user(&mut self, name: &str, caller: &User) -> Result<Value, Refusal> {
        self.stats.user_lookups += 1;
        let user =
            self.users.iter().find(|u| u.username == name).ok_or((400, format!("User '{name}' does not exist.")))?;
        let mut doc = json!({ "username": user.username, "fullName": user.username, "role": user.role() });
        if caller.is_admin() || caller.username == user.username {
            doc["email"] = json!(user.email);
        }
        Ok(doc)
    }

    /// `content/items/<id>`: a notebook item the caller may see (Esri, "Item": id, owner, title,
    /// type…); any other answers Portal's CONT_0001 error, code 400.
    pub fn item(&mut self, id: &str, caller: &User) -> Result<Value, Refusal> {
        self.stats.item_reads += 1;
        let visible = |item: &&super::scenario::ItemPlan| {
            item.id == id && (!item.private || caller.is_admin() || caller.username == item.owner)
        };
        let item =
            self.items.iter().find(visible).ok_or((400, "Item does not exist or is inaccessible.".to_string()))?;
        let access = if item.private { "private" } else { "org" };
        Ok(json!({
            "id": item.id, "owner": item.owner, "title": item.title, "type": "Notebook",
            "typeKeywords": ["Notebook", "Python"], "access": access, "created": 0, "modified": 0,
        }))
    }

    /// A job the caller may see: their own, or any for an administrator.
    fn find_for(&self, id: &str, now: i64, caller: &User) -> Result<(&SimJob, JobState), Refusal> {
        let found = self.find(id, now)?;
        match caller.is_admin() || found.0.plan.username.as_deref() == Some(caller.username.as_str()) {
            true => Ok(found),
            false => Err((403, FORBIDDEN.into())),
        }
    }

    /// The admin root: its resources, and the version under the site's name for it (Notebook
    /// Server 12.1 answers `{"resources":[…],"siteId":…,"version":"12.1.0"}`).
    pub fn admin_root(&self) -> Value {
        let key = match self.version_field {
            super::scenario::VersionField::CurrentVersion => "currentVersion",
            super::scenario::VersionField::FullVersion => "fullVersion",
            super::scenario::VersionField::Version => "version",
        };
        let mut root = json!({ "resources": ["notebooks", "system"], "siteId": "sim-site" });
        root[key] = json!(self.version);
        root
    }

    /// `notebooks/configuration` (enterprise) or `system/properties` (notebook-server): flat properties.
    pub fn limits(&self) -> Value {
        match self.flavor {
            Flavor::Enterprise => json!({
                "maxExecuteNotebookTimeMinutes": self.max_execute_minutes, "asyncJobsCleanAgeHours": 6,
                "idleNotebookThresholdMinutes": 720,
            }),
            Flavor::NotebookServer => json!({
                "containerCreatedThreshold": 60, "asyncJobsCleanAgeHours": 6,
                "maxExecuteNotebookTimeMinutes": self.max_execute_minutes,
            }),
        }
    }

    fn find(&self, id: &str, now: i64) -> Result<(&SimJob, JobState), Refusal> {
        self.jobs
            .iter()
            .find(|j| j.id == id)
            .and_then(|j| self.state(j, now).map(|s| (j, s)))
            .ok_or((404, format!("Job '{id}' not found.")))
    }
}

/// The job's messages: the scenario's, or for a failed job the tail of a Python traceback.
fn messages(job: &SimJob, state: &JobState) -> Vec<String> {
    if let Some(messages) = &job.plan.messages {
        return messages.clone();
    }
    match state.status {
        "FAILED" if !state.cancelled => vec![
            "Executing notebook cells".into(),
            "Cell 4: Traceback (most recent call last):".into(),
            "  File \"<cell>\", line 12, in <module>".into(),
            "KeyError: 'PARCEL_ID'".into(),
        ],
        _ => Vec::new(),
    }
}

mod accounts;
mod listing;
use listing::{classic_item, detailed_item};
pub mod notebooks;
pub mod tasks;
pub use accounts::REQUEST_REFERER;

/// Whether the site's release `version` ("11.4", "12.0.1") is `major.minor` or later: the
/// simulator's own reading, apart from the client's, so that a mistake in one is not copied by
/// the other. A version that cannot be read counts as the newest.
fn release_at_least(version: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = version.split('.').map(|p| p.trim().parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(a)), Some(Ok(b))) => (a, b) >= (major, minor),
        (Some(Ok(a)), None) => a > major || (a == major && minor == 0),
        _ => true,
    }
}

#[cfg(test)]
mod tests;
