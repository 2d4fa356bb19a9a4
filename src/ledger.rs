//! The in-memory view of one target's ledger of firings (pure): what has fired for each
//! (rule, job), so that nothing fires twice. The store persists it; this answers quickly.

use crate::clock::{LocalMs, ServerMs};
use std::collections::HashMap;

/// Consecutive matching polls per (rule, job), for rules with `for_polls` > 1.
pub type Streaks = HashMap<(String, String), u32>;

/// What caused a firing: the trigger part of its key in the ledger, so that each fires once.
/// Stored as its text (`Display`, read back by `FromStr`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// A poll rule's first firing for the job: `poll`.
    Poll,
    /// A poll rule's `repeat` slot n: `poll#n`.
    Repeat(usize),
    /// A job new since the previous poll: `appeared`.
    Appeared,
    /// A status change, `from->to`: the statuses, or the phases when the status text stayed the
    /// same; `none->to` for a job first seen in its status.
    Changed {
        /// Before.
        from: String,
        /// After.
        to: String,
    },
    /// A job gone from the list: `disappeared`.
    Disappeared,
    /// A digest slot as its cron wrote it: `schedule@ms`.
    Slot(LocalMs),
    /// A scheduled task's run that failed: `failed:run`.
    RunFailed(String),
    /// A scheduled task that stopped, by its last start (0: never started): `stopped@ms`.
    Stopped(ServerMs),
    /// A scheduled task's run due at that instant that did not start: `missed@ms`.
    Missed(ServerMs),
    /// An open notebook as of its last activity (0: not known): `activity@ms`. A notebook used
    /// again and idle again fires again.
    Activity(ServerMs),
    /// What a poll rule fired for no longer matches (its alert resolved): `resolved`.
    Resolved,
    /// A stored trigger this version does not write.
    Other(String),
}

impl Cause {
    /// A poll rule's firing (first or repeated).
    pub fn is_poll(&self) -> bool {
        matches!(self, Cause::Poll | Cause::Repeat(_))
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Poll => f.write_str("poll"),
            Cause::Repeat(n) => write!(f, "poll#{n}"),
            Cause::Appeared => f.write_str("appeared"),
            Cause::Changed { from, to } => write!(f, "{from}->{to}"),
            Cause::Disappeared => f.write_str("disappeared"),
            Cause::Resolved => f.write_str("resolved"),
            Cause::Slot(at) => write!(f, "schedule@{}", at.0),
            Cause::RunFailed(run) => write!(f, "failed:{run}"),
            Cause::Stopped(at) => write!(f, "stopped@{}", at.0),
            Cause::Missed(at) => write!(f, "missed@{}", at.0),
            Cause::Activity(at) => write!(f, "activity@{}", at.0),
            Cause::Other(text) => f.write_str(text),
        }
    }
}

impl std::str::FromStr for Cause {
    type Err = std::convert::Infallible;

    /// The stored text back; whatever it does not recognise is kept as it is (`Other`).
    fn from_str(text: &str) -> Result<Cause, Self::Err> {
        let number = |prefix: &str| text.strip_prefix(prefix).and_then(|n| n.parse::<i64>().ok());
        Ok(match text {
            "poll" => Cause::Poll,
            "appeared" => Cause::Appeared,
            "disappeared" => Cause::Disappeared,
            "resolved" => Cause::Resolved,
            _ => match (number("schedule@"), number("stopped@"), number("missed@"), number("activity@")) {
                (Some(ms), _, _, _) => Cause::Slot(LocalMs(ms)),
                (_, Some(ms), _, _) => Cause::Stopped(ServerMs(ms)),
                (_, _, Some(ms), _) => Cause::Missed(ServerMs(ms)),
                (_, _, _, Some(ms)) => Cause::Activity(ServerMs(ms)),
                _ => match (text.strip_prefix("poll#").and_then(|n| n.parse().ok()), text.strip_prefix("failed:")) {
                    (Some(n), _) => Cause::Repeat(n),
                    (_, Some(run)) => Cause::RunFailed(run.into()),
                    _ => match text.split_once("->") {
                        Some((from, to)) => Cause::Changed { from: from.into(), to: to.into() },
                        None => Cause::Other(text.into()),
                    },
                },
            },
        })
    }
}

/// What the ledger appends to the name of a `mode: shadow` rule, so that its firings never count
/// as the real rule's: the stored form only, read and written here.
const SHADOW: &str = " (shadow)";

/// The ledger's name of rule `rule`, a shadow rule's marked.
pub fn key(rule: &str, shadow: bool) -> std::borrow::Cow<'_, str> {
    match shadow {
        true => format!("{rule}{SHADOW}").into(),
        false => rule.into(),
    }
}

/// The rule name and whether it is a shadow rule's, of a ledger name.
pub fn parse_key(key: &str) -> (&str, bool) {
    match key.strip_suffix(SHADOW) {
        Some(rule) => (rule, true),
        None => (key, false),
    }
}

/// The job id under which digest slots are recorded.
pub const DIGEST_JOB: &str = "*";

/// What fired for one (rule, job).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    /// What already fired: `poll`, `poll#1`, `appeared`, `EXECUTING->FAILED`, …
    pub triggers: Vec<Cause>,
    /// When the last `poll` firing (or repeat) happened.
    pub last_poll_ms: Option<ServerMs>,
    /// How many of `triggers` are `poll` firings (read on every poll without touching the list).
    pub poll_firings: usize,
    /// When anything last fired (for pruning).
    pub last_ms: ServerMs,
}

/// The ledger of one target (real or dry-run, never both): rule → hash of the job id → entry.
/// Keyed by an 8-byte hash so that checking 100k jobs per poll never touches their id strings.
/// A collision (odds 2^-64) could only make a job look as if it had fired: never a second action.
#[derive(Debug, Clone, Default)]
pub struct LedgerIndex {
    entries: HashMap<String, HashMap<u64, Entry>>,
}

/// The hash of a job id used by the ledger and the snapshot (FxHash: fast; job ids are chosen
/// by the server, not by users, so no one can aim for a collision).
pub fn id_hash(id: &str) -> u64 {
    crate::text::fx_hash(id)
}

impl LedgerIndex {
    /// True when `trigger` already fired for (rule, job).
    pub fn fired(&self, rule: &str, job: &str, trigger: &Cause) -> bool {
        self.get(rule, job).is_some_and(|e| e.triggers.contains(trigger))
    }

    /// The entry of (rule, job), if any.
    pub fn get(&self, rule: &str, job: &str) -> Option<&Entry> {
        self.entries.get(rule)?.get(&id_hash(job))
    }

    /// The entries of one rule, for checking many jobs.
    pub fn rule(&self, rule: &str) -> Option<&HashMap<u64, Entry>> {
        self.entries.get(rule)
    }

    /// The trigger a `poll` rule would fire with now, or `None` when it must not fire.
    pub fn poll_trigger(&self, rule: &str, job: &str, repeat_ms: Option<i64>, now: ServerMs) -> Option<Cause> {
        poll_trigger(self.get(rule, job), repeat_ms, now)
    }

    /// Records a firing.
    pub fn record(&mut self, rule: &str, job: &str, trigger: &Cause, at: ServerMs) {
        let entry = self.entries.entry(rule.to_string()).or_default().entry(id_hash(job)).or_default();
        entry.last_ms = entry.last_ms.max(at);
        if entry.triggers.contains(trigger) {
            return;
        }
        if trigger.is_poll() {
            entry.last_poll_ms = Some(at);
            entry.poll_firings += 1;
        }
        if entry.triggers.is_empty() {
            // Most entries keep one trigger: room for one, not the four a first push makes.
            entry.triggers.reserve_exact(1);
        }
        entry.triggers.push(trigger.clone());
    }
}

impl LedgerIndex {
    /// Forgets entries that last fired before `before` for jobs `listed` does not know any more,
    /// as the store's pruning does; returns how many went.
    pub fn prune(&mut self, before: ServerMs, listed: impl Fn(u64) -> bool) -> usize {
        let mut removed = 0;
        for jobs in self.entries.values_mut() {
            let count = jobs.len();
            jobs.retain(|hash, entry| entry.last_ms >= before || listed(*hash));
            removed += count - jobs.len();
        }
        self.entries.retain(|_, jobs| !jobs.is_empty());
        removed
    }
}

/// The trigger a `poll` rule fires with, given its entry for the job; `None`: it must not fire.
pub fn poll_trigger(entry: Option<&Entry>, repeat_ms: Option<i64>, now: ServerMs) -> Option<Cause> {
    let Some(entry) = entry else { return Some(Cause::Poll) };
    let done = entry.poll_firings;
    match (done, repeat_ms, entry.last_poll_ms) {
        (0, _, _) => Some(Cause::Poll),
        (_, Some(every), Some(last)) if now.since(last) >= every => Some(Cause::Repeat(done)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_repeat_fires_once() {
        let mut ledger = LedgerIndex::default();
        assert_eq!(ledger.poll_trigger("r", "j", None, ServerMs(0)), Some(Cause::Poll));
        ledger.record("r", "j", &Cause::Poll, ServerMs(0));
        assert_eq!(ledger.poll_trigger("r", "j", None, ServerMs(1_000_000)), None);
        assert_eq!(ledger.poll_trigger("r", "other", None, ServerMs(0)), Some(Cause::Poll));
    }

    #[test]
    fn repeat_fires_again_after_the_interval_with_a_new_slot() {
        let mut ledger = LedgerIndex::default();
        ledger.record("r", "j", &Cause::Poll, ServerMs(0));
        assert_eq!(ledger.poll_trigger("r", "j", Some(60_000), ServerMs(59_999)), None);
        assert_eq!(ledger.poll_trigger("r", "j", Some(60_000), ServerMs(60_000)), Some(Cause::Repeat(1)));
        ledger.record("r", "j", &Cause::Repeat(1), ServerMs(60_000));
        assert_eq!(ledger.poll_trigger("r", "j", Some(60_000), ServerMs(119_999)), None);
        assert_eq!(ledger.poll_trigger("r", "j", Some(60_000), ServerMs(120_000)), Some(Cause::Repeat(2)));
    }

    /// A first poll may record tens of thousands of firings, most of which never fire again.
    #[test]
    fn an_entry_holds_room_for_its_one_trigger_only() {
        let mut ledger = LedgerIndex::default();
        ledger.record("r", "j", &Cause::Poll, ServerMs(0));
        assert_eq!(ledger.get("r", "j").map(|e| e.triggers.capacity()), Some(1));
        ledger.record("r", "j", &Cause::Repeat(1), ServerMs(60_000));
        assert_eq!(ledger.get("r", "j").map(|e| e.triggers.clone()), Some(vec![Cause::Poll, Cause::Repeat(1)]));
    }

    #[test]
    fn event_triggers_are_separate() {
        let mut ledger = LedgerIndex::default();
        let failed: Cause = "EXECUTING->FAILED".parse().unwrap();
        ledger.record("r", "j", &failed, ServerMs(5));
        assert!(ledger.fired("r", "j", &failed));
        assert!(!ledger.fired("r", "j", &Cause::Appeared));
        assert_eq!(ledger.poll_trigger("r", "j", None, ServerMs(10)), Some(Cause::Poll));
    }

    #[test]
    fn pruning_keeps_recent_and_listed_entries() {
        let mut ledger = LedgerIndex::default();
        ledger.record("r", "old-gone", &Cause::Poll, ServerMs(1_000));
        ledger.record("r", "old-listed", &Cause::Poll, ServerMs(1_000));
        ledger.record("r", "recent", &Cause::Poll, ServerMs(9_000));
        let listed = id_hash("old-listed");
        assert_eq!(ledger.prune(ServerMs(5_000), |h| h == listed), 1);
        assert!(!ledger.fired("r", "old-gone", &Cause::Poll));
        assert!(ledger.fired("r", "old-listed", &Cause::Poll) && ledger.fired("r", "recent", &Cause::Poll));
    }

    /// Every cause reads back as itself from its stored text, and text it does not know is kept.
    #[test]
    fn each_cause_reads_back_from_its_stored_text() {
        let changed = |from: &str, to: &str| Cause::Changed { from: from.into(), to: to.into() };
        for (cause, text) in [
            (Cause::Poll, "poll"),
            (Cause::Repeat(3), "poll#3"),
            (Cause::Appeared, "appeared"),
            (changed("EXECUTING", "FAILED"), "EXECUTING->FAILED"),
            (changed("none", "FAILED"), "none->FAILED"),
            (Cause::Disappeared, "disappeared"),
            (Cause::Resolved, "resolved"),
            (Cause::Slot(LocalMs(1_700_000_000_000)), "schedule@1700000000000"),
            (Cause::RunFailed("r-1".into()), "failed:r-1"),
            (Cause::Stopped(ServerMs(-5)), "stopped@-5"),
            (Cause::Missed(ServerMs(42)), "missed@42"),
            (Cause::Activity(ServerMs(43)), "activity@43"),
            (Cause::Other("schedule@soon".into()), "schedule@soon"),
        ] {
            assert_eq!(cause.to_string(), text);
            assert_eq!(text.parse::<Cause>().unwrap(), cause, "{text}");
        }
    }
}
