//! What is known of one target's notebook items (pure; no I/O): the last completed runs of each,
//! which `runtime_over_usual` compares a job with; the item ids read from job resources when the
//! job list does not carry them; and each item's title and owner, read once from Portal.

use crate::arcgis::{Item, Job, Phase};
use crate::clock::ServerMs;
use crate::diff::JobEvent;
use std::collections::{HashMap, VecDeque};
use std::sync::LazyLock;

/// The most runs kept per item (the largest `window` a rule may ask for).
pub const MAX_WINDOW: u32 = 100;

/// One completed run of a notebook item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// `inputs.itemId`.
    pub item_id: String,
    /// The job.
    pub job_id: String,
    /// When it ended.
    pub ended_ms: ServerMs,
    /// End minus start, ms.
    pub runtime_ms: i64,
}

/// What is known of an item's usual runtime: the runs counted and, when any, their median.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Baseline {
    /// Completed runs counted (at most the window).
    pub runs: usize,
    /// Their median runtime, ms.
    pub median_ms: Option<i64>,
}

/// The usual runtimes of one target's notebook items, and what else is known of them.
#[derive(Debug, Clone, Default)]
pub struct Usual {
    /// Per item, the runtimes of its last runs, oldest first.
    runs: HashMap<String, VecDeque<i64>>,
    /// Item ids read from job resources, by job id, while the job is listed.
    items: HashMap<String, String>,
    /// Per item id, its title and owner as read from Portal.
    notebooks: HashMap<String, Item>,
}

static EMPTY: LazyLock<Usual> = LazyLock::new(Usual::default);

impl Usual {
    /// Nothing known.
    pub fn empty() -> &'static Usual {
        &EMPTY
    }

    /// Whether no completed run is known.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Starts from stored runs (any order; the newest `MAX_WINDOW` per item are kept).
    pub fn from_runs(mut runs: Vec<Run>) -> Usual {
        runs.sort_by_key(|r| r.ended_ms);
        let mut usual = Usual::default();
        for run in runs {
            usual.add(&run.item_id, run.runtime_ms);
        }
        usual
    }

    /// Counts one completed run of `item_id`.
    pub fn add(&mut self, item_id: &str, runtime_ms: i64) {
        let runs = self.runs.entry(item_id.to_string()).or_default();
        if runs.len() == MAX_WINDOW as usize {
            runs.pop_front();
        }
        runs.push_back(runtime_ms);
    }

    /// The median runtime of the last `window` runs of `item_id`.
    pub fn baseline(&self, item_id: &str, window: u32) -> Baseline {
        let Some(runs) = self.runs.get(item_id) else { return Baseline { runs: 0, median_ms: None } };
        let mut last: Vec<i64> = runs.iter().rev().take(window as usize).copied().collect();
        last.sort_unstable();
        let n = last.len();
        let median_ms = match n {
            0 => None,
            _ if n % 2 == 1 => Some(last[n / 2]),
            _ => Some((last[n / 2 - 1] + last[n / 2]) / 2),
        };
        Baseline { runs: n, median_ms }
    }

    /// The runs the events of one poll completed (`now_ms`: the poll's time, the end of a job
    /// that left the list finished without an end time), counted here and returned to be stored.
    /// A job the list gave no item id for takes the one read from its resource; those reads
    /// are forgotten once the job has left the list.
    pub fn observe(&mut self, events: &[JobEvent], now: ServerMs) -> Vec<Run> {
        let mut runs = Vec::new();
        for event in events {
            let ended = match event {
                JobEvent::Appeared(job) => completed(job).then_some(job),
                JobEvent::StatusChanged { before, after } => (completed(after) && !completed(before)).then_some(after),
                JobEvent::Disappeared { last_seen, final_status } => {
                    let done = final_status.as_ref().is_some_and(|s| s.phase() == Phase::Completed);
                    (done && !completed(last_seen)).then_some(last_seen)
                }
            };
            if let Some(run) = ended.and_then(|job| self.run_of(job, now)) {
                self.add(&run.item_id, run.runtime_ms);
                runs.push(run);
            }
            if let JobEvent::Disappeared { last_seen, .. } = event {
                self.items.remove(&last_seen.id);
            }
        }
        runs
    }

    fn run_of(&self, job: &Job, now: ServerMs) -> Option<Run> {
        let item_id = self.item_of(job)?.to_string();
        let ended_ms = job.ended_at.unwrap_or(now);
        let runtime_ms = (ended_ms - job.started_at?).max(0);
        Some(Run { item_id, job_id: job.id.clone(), ended_ms, runtime_ms })
    }

    /// Every run of the baseline's completed jobs that carry an item id and an end time (when
    /// such a job ended is not known otherwise).
    pub fn observe_baseline<'a>(&mut self, jobs: impl IntoIterator<Item = &'a Job>) -> Vec<Run> {
        let ended = |j: &&Job| completed(j) && j.ended_at.is_some();
        let mut runs: Vec<Run> = jobs.into_iter().filter(ended).filter_map(|j| self.run_of(j, ServerMs(0))).collect();
        runs.sort_by_key(|r| r.ended_ms);
        for run in &runs {
            self.add(&run.item_id, run.runtime_ms);
        }
        runs
    }

    /// The notebook item of the job, as read from Portal.
    pub fn notebook_of(&self, job: &Job) -> Option<&Item> {
        self.notebooks.get(self.item_of(job)?)
    }

    /// The title of the job's notebook item, when Portal gave it.
    pub fn title_of(&self, job: &Job) -> Option<&str> {
        self.notebook_of(job)?.title.as_deref()
    }

    /// Whether item `item_id` was read from Portal already (whatever the answer).
    pub fn knows_notebook(&self, item_id: &str) -> bool {
        self.notebooks.contains_key(item_id)
    }

    /// What Portal said of item `item_id`, once read.
    pub fn item(&self, item_id: &str) -> Option<&Item> {
        self.notebooks.get(item_id)
    }

    /// Remembers what Portal said of item `item_id`.
    pub fn learn_notebook(&mut self, item_id: &str, notebook: Item) {
        self.notebooks.insert(item_id.to_string(), notebook);
    }

    /// The job's item id: from the list, else read from its resource.
    pub fn item_of<'a>(&'a self, job: &'a Job) -> Option<&'a str> {
        job.item_id.as_deref().or_else(|| self.items.get(&job.id).map(String::as_str))
    }

    /// Remembers the item id read from a job's resource.
    pub fn learn_item(&mut self, job_id: &str, item_id: &str) {
        self.items.insert(job_id.to_string(), item_id.to_string());
    }

    /// Puts the item ids read earlier into listed jobs that lack them, so that a job does not
    /// change from one poll to the next merely because the list leaves its item out. A list
    /// that carries every item id makes the reads unneeded: they are forgotten.
    pub fn fill_items(&mut self, next: &mut crate::diff::Snapshot) {
        if self.items.is_empty() {
            return;
        }
        let lacking = next.values().any(|j| j.item_id.is_none());
        match lacking {
            true => drop(next.set_items(&self.items)),
            false => self.items = HashMap::new(),
        }
    }

    /// After a restart: the item ids of the stored snapshot's jobs, as if read again.
    pub fn remember_items<'a>(&mut self, jobs: impl IntoIterator<Item = &'a Job>) {
        for job in jobs {
            if let Some(item) = &job.item_id {
                self.items.insert(job.id.clone(), item.clone());
            }
        }
    }
}

fn completed(job: &Job) -> bool {
    job.phase() == Phase::Completed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arcgis::Status;

    fn job(id: &str, status: Status, item: Option<&str>, start: i64, end: Option<i64>) -> Job {
        let (started_at, ended_at) = (Some(ServerMs(start)), end.map(ServerMs));
        Job { item_id: item.map(Into::into), started_at, ended_at, ..Job::new(id, status) }
    }

    #[test]
    fn the_median_of_the_last_window_runs() {
        let mut usual = Usual::default();
        for runtime in [100, 1, 3, 2, 10] {
            usual.add("a", runtime);
        }
        assert_eq!(usual.baseline("a", 20), Baseline { runs: 5, median_ms: Some(3) });
        assert_eq!(usual.baseline("a", 4), Baseline { runs: 4, median_ms: Some(2) }, "1 3 2 10: (2 + 3) / 2");
        assert_eq!(usual.baseline("b", 20), Baseline { runs: 0, median_ms: None });
        for _ in 0..MAX_WINDOW {
            usual.add("a", 7);
        }
        assert_eq!(usual.baseline("a", MAX_WINDOW), Baseline { runs: MAX_WINDOW as usize, median_ms: Some(7) });
    }

    #[test]
    fn runs_are_counted_once_when_they_complete_with_read_item_ids() {
        let mut usual = Usual::default();
        usual.learn_item("r", "nb");
        let running = job("r", Status::Executing, None, 1_000, None);
        let done = job("r", Status::Completed, None, 1_000, Some(4_000));
        let events = [
            JobEvent::StatusChanged { before: running.clone(), after: done.clone() },
            JobEvent::Appeared(job("q", Status::Completed, Some("nb"), 0, Some(2_000))),
            JobEvent::Appeared(job("x", Status::Failed, Some("nb"), 0, Some(9_000))),
            JobEvent::Disappeared { last_seen: done, final_status: Some(Status::Completed) },
        ];
        let runs = usual.observe(&events, ServerMs(5_000));
        let got: Vec<(&str, i64)> = runs.iter().map(|r| (r.job_id.as_str(), r.runtime_ms)).collect();
        assert_eq!(got, [("r", 3_000), ("q", 2_000)], "a failed run and a repeated completion do not count");
        assert_eq!(usual.baseline("nb", 20).runs, 2);
        let mut listed = crate::diff::snapshot(vec![Job::new("r", Status::Completed)]);
        usual.fill_items(&mut listed);
        assert_eq!(listed.jobs()[0].item_id, None, "forgotten once the job left the list");
    }

    #[test]
    fn the_baseline_counts_completed_jobs_with_an_end_only() {
        let mut usual = Usual::default();
        let jobs = [
            job("a", Status::Completed, Some("nb"), 1_000, Some(4_000)),
            job("b", Status::Completed, Some("nb"), 1_000, None),
            job("c", Status::Executing, Some("nb"), 1_000, None),
        ];
        let runs = usual.observe_baseline(&jobs);
        assert_eq!(runs.iter().map(|r| (r.job_id.as_str(), r.runtime_ms)).collect::<Vec<_>>(), [("a", 3_000)]);
    }

    #[test]
    fn a_job_gone_while_running_ends_at_the_poll_that_missed_it() {
        let mut usual = Usual::default();
        let last_seen = job("g", Status::Executing, Some("nb"), 1_000, None);
        let runs = usual
            .observe(&[JobEvent::Disappeared { last_seen, final_status: Some(Status::Completed) }], ServerMs(8_000));
        assert_eq!(runs[0].runtime_ms, 7_000);
    }

    #[test]
    fn read_item_ids_fill_the_list_until_it_carries_them() {
        let mut usual = Usual::default();
        usual.learn_item("a", "nb");
        let mut listed =
            crate::diff::snapshot(vec![Job::new("a", Status::Executing), Job::new("b", Status::Executing)]);
        usual.fill_items(&mut listed);
        let jobs = listed.jobs();
        assert_eq!((jobs[0].item_id.as_deref(), jobs[1].item_id.as_deref()), (Some("nb"), None));
        let mut detailed =
            crate::diff::snapshot(vec![Job { item_id: Some("nb".into()), ..Job::new("a", Status::Executing) }]);
        usual.fill_items(&mut detailed);
        assert!(usual.items.is_empty(), "a list with every item id makes the reads unneeded");
    }
}
