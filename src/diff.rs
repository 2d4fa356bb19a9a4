//! Diff stage (pure; no I/O): two snapshots of one target → `appeared`, `status_changed`,
//! `disappeared` events (SPEC §4). A baseline has no previous snapshot and yields no events.

use crate::arcgis::{Job, Known, Listed, ListedBody, Status};
use crate::clock::ServerMs;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The jobs of one target at one poll, in the order the server listed them.
///
/// Servers list jobs in a stable order, so two consecutive polls diff in one sequential pass:
/// at 100k jobs a hash map's scattered lookups cost more than parsing the list. A job listed in
/// the same bytes as at the previous poll is that poll's `Job`, shared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The jobs, with the hash of the bytes each was listed as (`0`: not known), which the next
    /// poll's list read compares. The same list again is this one, shared.
    listed: Listed,
    /// A hash of each job, taken while the freshly parsed job is still in cache: comparing
    /// two polls then reads eight bytes per job instead of every string of the older one.
    prints: Vec<u64>,
    /// The ledger's hash of each job id (see `ledger::id_hash`).
    ids: Vec<u64>,
    /// Status kind, end time and `isCancelled` of each job, packed exactly (see `state_word`).
    states: Vec<u64>,
    /// `1 << phase` of each job, for rules that look at a few phases only.
    phases: Vec<u8>,
    /// The start of each job without an end time (`i64::MIN`: it has one, or no start), so that
    /// a runtime limit is checked without reading the job.
    starts: Vec<i64>,
}

impl Snapshot {
    /// The jobs, in listing order.
    pub fn jobs(&self) -> &[Arc<Job>] {
        self.listed.jobs()
    }

    /// True once the jobs are in memory (a stored snapshot's: once one was read).
    #[cfg(test)]
    pub fn decoded(&self) -> bool {
        self.listed.decoded()
    }

    /// The job at `position` (a stored snapshot's jobs are decoded when one is first read).
    pub fn job(&self, position: usize) -> &Arc<Job> {
        &self.listed.jobs()[position]
    }

    /// Iterates over the jobs.
    pub fn values(&self) -> impl Iterator<Item = &Job> + '_ {
        self.listed.jobs().iter().map(|job| &**job)
    }

    /// The jobs with the hash of the bytes each was listed as, for the next list read.
    pub fn known(&self) -> Known<'_> {
        Known(Some(&self.listed))
    }

    /// The hash of the bytes each job was listed as (`0`: not known), in the order of [`Snapshot::jobs`].
    pub fn raw_hashes(&self) -> &[u64] {
        &self.listed.raw
    }

    /// What the list read knows of the body these jobs were read from.
    pub fn listed_body(&self) -> Option<ListedBody> {
        self.listed.body
    }

    /// The ledger's hash of each job id, in the order of [`Snapshot::jobs`].
    pub fn id_hashes(&self) -> &[u64] {
        &self.ids
    }

    /// `1 << phase` of each job, in the order of [`Snapshot::jobs`].
    pub fn phase_bits(&self) -> &[u8] {
        &self.phases
    }

    /// The start of each job without an end time, on the server's clock (`i64::MIN`: it has an
    /// end time, or no start), in the order of [`Snapshot::jobs`].
    pub fn open_starts(&self) -> &[i64] {
        &self.starts
    }

    /// The runtime at `now` of the job at `position`, as `Job::runtime` gives it; from its start
    /// alone, without reading the job, when it has no end time.
    pub fn runtime_at(&self, position: usize, now: ServerMs) -> Option<Duration> {
        open_runtime(self.starts[position], now).or_else(|| self.job(position).runtime(now))
    }

    /// Gives the listed jobs without an item id the one `items` has for them (by job id), keeping
    /// each patched job's hash true; returns how many were patched.
    pub fn set_items(&mut self, items: &HashMap<String, String>) -> usize {
        self.fill(items, |job| job.item_id.is_none(), |job, item| job.item_id = Some(item))
    }

    /// Gives the listed jobs without a task id the one `tasks` has for them (by job id), keeping
    /// each patched job's hash true; false when every listed job had one (a list with `inputs`).
    pub fn set_tasks(&mut self, tasks: &HashMap<String, String>) -> bool {
        let lacking = self.values().any(|job| job.task_id.is_none());
        self.fill(tasks, |job| job.task_id.is_none(), |job, task| job.task_id = Some(task));
        lacking
    }

    /// Sets, with `set`, the value `values` has for each listed job that `lacks` it; a shared job
    /// (or list) is copied first, only when it is patched. Returns how many were patched.
    fn fill(&mut self, values: &HashMap<String, String>, lacks: fn(&Job) -> bool, set: fn(&mut Job, String)) -> usize {
        let found = |job: &Job| lacks(job).then(|| values.get(&job.id)).flatten().cloned();
        let patches: Vec<(usize, String)> =
            self.values().enumerate().filter_map(|(at, job)| Some((at, found(job)?))).collect();
        if patches.is_empty() {
            return 0;
        }
        let mut jobs = self.jobs().to_vec();
        for (at, value) in &patches {
            let job = Arc::make_mut(&mut jobs[*at]);
            set(job, value.clone());
            self.prints[*at] = fingerprint(job);
        }
        self.listed = self.listed.with_jobs(jobs);
        patches.len()
    }

    /// This snapshot with `more` jobs added after the listed ones.
    pub fn extended(self, more: Vec<Job>) -> Snapshot {
        let mut jobs = self.jobs().to_vec();
        jobs.extend(more.into_iter().map(Arc::new));
        listed(Listed::new(jobs, self.listed.raw.to_vec()), None)
    }

    /// Number of jobs.
    pub fn len(&self) -> usize {
        self.listed.len()
    }

    /// True without jobs.
    pub fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }
}

/// Builds a snapshot from a job list whose listed bytes are not known, keeping the server's order.
pub fn snapshot(jobs: Vec<Job>) -> Snapshot {
    listed(Listed::new(jobs.into_iter().map(Arc::new).collect(), Vec::new()), None)
}

/// Builds a snapshot from a listing, keeping the server's order. A job shared with `prev` takes
/// its hashes from there instead of hashing again; the same list again takes all of them.
pub fn listed(listed: Listed, prev: Option<&Snapshot>) -> Snapshot {
    match prev.filter(|prev| prev.listed.same(&listed)) {
        Some(prev) => prev.clone(),
        None => build(listed, prev, true),
    }
}

/// A snapshot read back from the store. Its jobs are not fingerprinted: the next listing shares
/// the unchanged ones (compared by identity), and a job listed in other bytes is compared whole.
pub fn stored(jobs: Vec<Arc<Job>>, raw: Vec<u64>, body: Option<ListedBody>) -> Snapshot {
    build(Listed::new(jobs, raw).from_body(body), None, false)
}

/// A snapshot read back from the store whose jobs are decoded only when one is read
/// (`Listed::later`), with the `facts` of each taken from its stored form.
pub fn stored_later(listed: Listed, facts: &[Facts]) -> Snapshot {
    let mut next = Snapshot::with_capacity(facts.len());
    for facts in facts {
        next.push(NOT_TAKEN, *facts);
    }
    Snapshot { listed, ..next }
}

/// What a snapshot keeps of each job besides the job, so that the diff and the rules need not
/// read it: taken from a listed job, or from a stored job without decoding it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facts {
    /// The ledger's hash of the job id.
    pub id: u64,
    /// Status kind, end time and `isCancelled` (see `state_word`).
    pub state: u64,
    /// `1 << phase`.
    pub phase: u8,
    /// The start of a job without an end time (`i64::MIN`: not such a job).
    pub start: i64,
}

impl Facts {
    /// The facts of a job with these fields.
    pub fn of(
        id: &str,
        status: &Status,
        cancelled: bool,
        (started, ended): (Option<ServerMs>, Option<ServerMs>),
    ) -> Facts {
        Facts {
            id: crate::ledger::id_hash(id),
            state: state_word(status, ended, cancelled),
            phase: 1u8 << crate::arcgis::Phase::of(status, cancelled, ended.is_some()) as u8,
            start: open_start(started, ended),
        }
    }

    /// The facts of `job`.
    pub fn of_job(job: &Job) -> Facts {
        Facts::of(&job.id, &job.status, job.cancelled_flag, (job.started_at, job.ended_at))
    }
}

impl Snapshot {
    fn with_capacity(capacity: usize) -> Snapshot {
        Snapshot {
            prints: Vec::with_capacity(capacity),
            ids: Vec::with_capacity(capacity),
            states: Vec::with_capacity(capacity),
            phases: Vec::with_capacity(capacity),
            starts: Vec::with_capacity(capacity),
            ..Snapshot::default()
        }
    }

    fn push(&mut self, print: u64, facts: Facts) {
        self.prints.push(print);
        self.ids.push(facts.id);
        self.states.push(facts.state);
        self.phases.push(facts.phase);
        self.starts.push(facts.start);
    }

    fn facts(&self, at: usize) -> Facts {
        Facts { id: self.ids[at], state: self.states[at], phase: self.phases[at], start: self.starts[at] }
    }
}

fn build(listed: Listed, prev: Option<&Snapshot>, prints: bool) -> Snapshot {
    let jobs = listed.jobs();
    let mut next = Snapshot::with_capacity(jobs.len());
    let mut cursor = 0;
    for job in jobs {
        match prev.and_then(|prev| shared_at(prev, cursor, job)) {
            Some((prev, at)) => {
                next.push(prev.prints[at], prev.facts(at));
                cursor = at + 1;
            }
            None => next.push(if prints { fingerprint(job) } else { NOT_TAKEN }, Facts::of_job(job)),
        }
    }
    Snapshot { listed, ..next }
}

/// Where `prev` holds this very `Job` (shared, not equal), looked for a little ahead of `cursor`.
fn shared_at<'p>(prev: &'p Snapshot, cursor: usize, job: &Arc<Job>) -> Option<(&'p Snapshot, usize)> {
    let end = (cursor + LOOKAHEAD).min(prev.len());
    let offset = prev.jobs().get(cursor..end)?.iter().position(|p| Arc::ptr_eq(p, job))?;
    Some((prev, cursor + offset))
}

/// The runtime at `now` of a job without an end time started at `start` (`i64::MIN`: not such a
/// job, `None`), exactly as `Job::runtime` gives it.
pub fn open_runtime(start: i64, now: ServerMs) -> Option<Duration> {
    (start != i64::MIN).then(|| Duration::from_millis(now.since(ServerMs(start)).max(0) as u64))
}

/// The start of a job without an end time; `i64::MIN` for any other.
fn open_start(started: Option<ServerMs>, ended: Option<ServerMs>) -> i64 {
    match (started, ended) {
        (Some(start), None) => start.0,
        _ => i64::MIN,
    }
}

/// The fields whose change is an event, packed without loss: end time, status kind, isCancelled.
fn state_word(status: &Status, ended: Option<ServerMs>, cancelled: bool) -> u64 {
    let kind = match status {
        Status::Submitted => 0,
        Status::Executing => 1,
        Status::Processing => 2,
        Status::Partial => 3,
        Status::Completed => 4,
        Status::Failed => 5,
        Status::Cancelled(_) => 6,
        Status::Unknown(_) => 7,
    };
    (ended.map_or(0, |at| at.0).max(0) as u64) << 4 | kind << 1 | u64::from(cancelled)
}

/// The fingerprint of a job not fingerprinted (read back from the store); never a job's.
const NOT_TAKEN: u64 = 0;

fn fingerprint(job: &Job) -> u64 {
    crate::text::fx_hash(job).max(1)
}

/// The same job shared, or equal fingerprints and equal state words: unchanged. Reads no job at all.
fn unchanged(prev: &Snapshot, at: usize, next: &Snapshot, index: usize) -> bool {
    Arc::ptr_eq(prev.job(at), next.job(index))
        || prev.prints[at] != NOT_TAKEN
            && prev.prints[at] == next.prints[index]
            && prev.states[at] == next.states[index]
}

/// What started a firing: the `on:` of its rule, `event.kind` in templates.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EventKind {
    /// A poll of every listed job.
    Poll,
    /// A job new since the previous poll.
    Appeared,
    /// A job whose status changed.
    StatusChanged,
    /// A job gone from the list.
    Disappeared,
    /// A slot of a cron schedule (digests).
    Schedule,
    /// A scheduled task's run failed.
    TaskFailed,
    /// A scheduled task left the active state.
    TaskStopped,
    /// A scheduled task's due run did not start.
    TaskMissed,
    /// A read of the open notebooks, over every open notebook.
    Notebook,
    /// A job a poll rule fired for (with an action that follows the state) no longer matches,
    /// or left the list: its alert is resolved.
    Resolved,
}

impl EventKind {
    /// Its spelling.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What started a firing, for templates and output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInfo {
    /// What kind of event.
    pub kind: EventKind,
    /// The status before (status changes).
    pub from: Option<String>,
    /// The status after (status changes, final status of a disappearance).
    pub to: Option<String>,
}

/// A change between two snapshots of one target.
// Events are few per poll (proportional to change), so the unboxed variants cost nothing that matters.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum JobEvent {
    /// A job that was not in the previous snapshot.
    Appeared(Job),
    /// A job whose status or phase changed.
    StatusChanged {
        /// As previously seen.
        before: Job,
        /// As seen now.
        after: Job,
    },
    /// A job missing from the new snapshot; its final status is read once afterwards.
    Disappeared {
        /// As last seen.
        last_seen: Job,
        /// From `<jobs>/<id>`, `None` when that failed.
        final_status: Option<Status>,
    },
}

impl JobEvent {
    /// `appeared`, `status_changed` or `disappeared`.
    pub fn kind(&self) -> EventKind {
        match self {
            JobEvent::Appeared(_) => EventKind::Appeared,
            JobEvent::StatusChanged { .. } => EventKind::StatusChanged,
            JobEvent::Disappeared { .. } => EventKind::Disappeared,
        }
    }

    /// The job the event is about, as most recently known.
    pub fn job(&self) -> &Job {
        match self {
            JobEvent::Appeared(job) => job,
            JobEvent::StatusChanged { after, .. } => after,
            JobEvent::Disappeared { last_seen, .. } => last_seen,
        }
    }
}

/// What changed between two polls: the events, and the snapshot rows to write.
#[derive(Debug, Default, PartialEq)]
pub struct Delta {
    /// Events in a stable order (appeared and changed by id, then disappeared by id).
    pub events: Vec<JobEvent>,
    /// Listed jobs new or different in any field, by index into the new snapshot: the rows to write.
    pub upserts: Vec<usize>,
}

/// How far ahead in the previous list a job is looked for before it counts as new.
const LOOKAHEAD: usize = 8;

/// Compares `next` with `prev`; `None` is the baseline: every job is upserted, no event emitted.
pub fn diff(prev: Option<&Snapshot>, next: &Snapshot) -> Delta {
    let Some(prev) = prev else {
        return Delta { events: Vec::new(), upserts: (0..next.len()).collect() };
    };
    let mut delta = Delta::default();
    if prev.listed.same(&next.listed) {
        return delta;
    }
    let (old, new) = (prev.jobs(), next.jobs());
    let mut paired = vec![false; old.len()];
    let mut unpaired_new = Vec::new();
    let mut cursor = 0;
    for (index, job) in new.iter().enumerate() {
        let end = (cursor + LOOKAHEAD).min(old.len());
        match prev.ids[cursor..end].iter().position(|&id| id == next.ids[index]) {
            Some(offset) => {
                let at = cursor + offset;
                paired[at] = true;
                if !unchanged(prev, at, next, index) {
                    compare(&old[at], (index, job), &mut delta);
                }
                cursor = at + 1;
            }
            None => unpaired_new.push((index, job)),
        }
    }
    // Jobs that moved further than the lookahead: pair them through a map of the few leftovers.
    let mut leftovers: HashMap<&str, &Job> =
        old.iter().zip(&paired).filter(|(_, p)| !**p).map(|(j, _)| (j.id.as_str(), &**j)).collect();
    for (index, job) in unpaired_new {
        match leftovers.remove(job.id.as_str()) {
            Some(before) => compare(before, (index, job), &mut delta),
            None => {
                delta.events.push(JobEvent::Appeared(Job::clone(job)));
                delta.upserts.push(index);
            }
        }
    }
    delta.events.sort_by(|a, b| a.job().id.cmp(&b.job().id));
    let mut gone: Vec<&Job> = leftovers.into_values().collect();
    gone.sort_by(|a, b| a.id.cmp(&b.id));
    for job in gone {
        delta.events.push(JobEvent::Disappeared { last_seen: job.clone(), final_status: None });
    }
    delta
}

/// One job seen in both polls (`after` at its index in the new snapshot): a row to write when
/// anything differs, an event when its status did.
fn compare(before: &Job, (index, after): (usize, &Job), delta: &mut Delta) {
    if before == after {
        return;
    }
    if before.status != after.status || before.phase() != after.phase() {
        delta.events.push(JobEvent::StatusChanged { before: before.clone(), after: after.clone() });
    }
    delta.upserts.push(index);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, status: Status) -> Job {
        Job::new(id, status)
    }

    fn snap(jobs: &[Job]) -> Snapshot {
        snapshot(jobs.to_vec())
    }

    #[test]
    fn table() {
        let run = |id| job(id, Status::Executing);
        let mut cancelled_flag = job("b", Status::Failed);
        cancelled_flag.cancelled_flag = true;
        let mut ended = run("a");
        ended.ended_at = Some(crate::clock::ServerMs(5));
        let mut renamed = run("a");
        renamed.username = Some("joe".into());
        // (name, previous, next, events, rows written)
        type Case<'a> = (&'a str, Option<Snapshot>, Snapshot, Vec<&'a str>, usize);
        let cases: Vec<Case> = vec![
            ("baseline: no events, every row written", None, snap(&[run("a"), run("b")]), vec![], 2),
            ("nothing changed: nothing to write", Some(snap(&[run("a")])), snap(&[run("a")]), vec![], 0),
            ("appeared", Some(snap(&[run("a")])), snap(&[run("a"), run("b")]), vec!["appeared b"], 1),
            ("status changed", Some(snap(&[run("a")])), snap(&[job("a", Status::Failed)]), vec!["status_changed a"], 1),
            ("disappeared", Some(snap(&[run("a"), run("b")])), snap(&[run("a")]), vec!["disappeared b"], 0),
            (
                "phase changed by isCancelled",
                Some(snap(&[job("b", Status::Failed)])),
                snap(&[cancelled_flag]),
                vec!["status_changed b"],
                1,
            ),
            ("phase changed by endTime", Some(snap(&[run("a")])), snap(&[ended]), vec!["status_changed a"], 1),
            ("other field: written, no event", Some(snap(&[run("a")])), snap(&[renamed]), vec![], 1),
            ("empty previous poll", Some(Snapshot::default()), snap(&[run("a")]), vec!["appeared a"], 1),
        ];
        for (name, prev, next, events, upserts) in cases {
            let delta = diff(prev.as_ref(), &next);
            let got: Vec<String> = delta.events.iter().map(|e| format!("{} {}", e.kind(), e.job().id)).collect();
            assert_eq!(got, events, "{name}");
            assert_eq!(delta.upserts.len(), upserts, "{name}");
        }
    }

    #[test]
    fn reordered_lists_pair_every_job() {
        let ids: Vec<Job> = (0..40).map(|i| job(&format!("j{i:02}"), Status::Executing)).collect();
        let mut shuffled = ids.clone();
        shuffled.reverse();
        shuffled.insert(20, job("new", Status::Submitted));
        shuffled.retain(|j| j.id != "j07");
        let delta = diff(Some(&snap(&ids)), &snap(&shuffled));
        let got: Vec<String> = delta.events.iter().map(|e| format!("{} {}", e.kind(), e.job().id)).collect();
        assert_eq!(got, ["appeared new", "disappeared j07"]);
        assert_eq!(delta.upserts.len(), 1);
    }

    #[test]
    fn new_jobs_at_the_top_keep_the_pass_sequential() {
        let old: Vec<Job> = (0..100).map(|i| job(&format!("j{i:03}"), Status::Executing)).collect();
        let mut new = vec![job("fresh1", Status::Submitted), job("fresh2", Status::Submitted)];
        new.extend(old.iter().skip(1).cloned());
        let delta = diff(Some(&snap(&old)), &snap(&new));
        let got: Vec<String> = delta.events.iter().map(|e| format!("{} {}", e.kind(), e.job().id)).collect();
        assert_eq!(got, ["appeared fresh1", "appeared fresh2", "disappeared j000"]);
    }

    /// The fast path: a job listed again with the same fingerprint and state word is known to be
    /// unchanged without reading it; any change to it is not.
    #[test]
    fn a_job_listed_again_is_known_unchanged_without_reading_it() {
        let before = snap(&[job("a", Status::Executing)]);
        assert!(unchanged(&before, 0, &snap(&[job("a", Status::Executing)]), 0));
        let mut ended = job("a", Status::Executing);
        ended.ended_at = Some(crate::clock::ServerMs(5));
        for after in [job("a", Status::Failed), ended] {
            assert!(!unchanged(&before, 0, &snap(std::slice::from_ref(&after)), 0), "{after:?}");
        }
    }

    /// The state word keeps every field whose change is an event apart, so that an event never
    /// hangs on the fingerprint alone.
    #[test]
    fn the_state_word_tells_every_event_field_apart() {
        let statuses = [
            Status::Submitted,
            Status::Executing,
            Status::Processing,
            Status::Partial,
            Status::Completed,
            Status::Failed,
            Status::Cancelled("CANCELLED".into()),
            Status::Unknown("odd".into()),
        ];
        let mut words = std::collections::HashSet::new();
        let mut count = 0;
        for status in &statuses {
            for ended_at in [None, Some(1), Some(2), Some(1_700_000_000_000)].map(|at| at.map(crate::clock::ServerMs)) {
                for cancelled_flag in [false, true] {
                    let job = Job { ended_at, cancelled_flag, ..job("a", status.clone()) };
                    words.insert(Facts::of_job(&job).state);
                    count += 1;
                }
            }
        }
        assert_eq!(words.len(), count);
    }

    /// Item ids found later patch the listed jobs without one, and the snapshot stays what a fresh
    /// one of the patched jobs would be; jobs kept from a cut-short list come after the listed.
    #[test]
    fn a_snapshot_patched_or_extended_equals_a_fresh_one() {
        let with_item = Job { item_id: Some("i0".into()), ..job("b", Status::Executing) };
        let mut patched = snap(&[job("a", Status::Executing), with_item.clone(), job("c", Status::Failed)]);
        let items = HashMap::from([("a".to_string(), "i1".to_string()), ("b".to_string(), "i2".to_string())]);
        assert_eq!(patched.set_items(&items), 1, "only the job without an item id");
        let a = Job { item_id: Some("i1".into()), ..job("a", Status::Executing) };
        assert_eq!(patched, snap(&[a.clone(), with_item.clone(), job("c", Status::Failed)]));
        let extended = snap(std::slice::from_ref(&a)).extended(vec![with_item.clone()]);
        assert_eq!(extended, snap(&[a, with_item]));
        assert!(Snapshot::default().is_empty() && !extended.is_empty());
    }

    #[test]
    fn status_change_carries_both_sides() {
        let delta = diff(Some(&snap(&[job("a", Status::Executing)])), &snap(&[job("a", Status::Failed)]));
        let JobEvent::StatusChanged { before, after } = &delta.events[0] else { panic!() };
        assert_eq!((before.status.as_str(), after.status.as_str()), ("EXECUTING", "FAILED"));
    }
}
