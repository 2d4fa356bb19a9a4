//! The in-memory view of one target's ledger of firings (pure): what has fired for each
//! (rule, job), so that nothing fires twice. The store persists it; this answers quickly.

use std::collections::HashMap;

/// Consecutive matching polls per (rule, job), for rules with `for_polls` > 1.
pub type Streaks = HashMap<(String, String), u32>;

/// The trigger name of a `poll` firing, and the prefix of its repeat slots.
pub const POLL: &str = "poll";

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
    /// Triggers already fired: `poll`, `poll#1`, `appeared`, `EXECUTING->FAILED`, …
    pub triggers: Vec<String>,
    /// When the last `poll` firing (or repeat) happened, epoch ms.
    pub last_poll_ms: Option<i64>,
    /// How many of `triggers` are `poll` firings (read on every poll without touching the strings).
    pub poll_firings: usize,
    /// When anything last fired, epoch ms (for pruning).
    pub last_ms: i64,
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
    pub fn fired(&self, rule: &str, job: &str, trigger: &str) -> bool {
        self.get(rule, job).is_some_and(|e| e.triggers.iter().any(|t| t == trigger))
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
    pub fn poll_trigger(&self, rule: &str, job: &str, repeat_ms: Option<i64>, now_ms: i64) -> Option<String> {
        poll_trigger(self.get(rule, job), repeat_ms, now_ms)
    }

    /// Records a firing.
    pub fn record(&mut self, rule: &str, job: &str, trigger: &str, at_ms: i64) {
        let entry = self.entries.entry(rule.to_string()).or_default().entry(id_hash(job)).or_default();
        entry.last_ms = entry.last_ms.max(at_ms);
        if entry.triggers.iter().any(|t| t == trigger) {
            return;
        }
        if trigger == POLL || trigger.starts_with("poll#") {
            entry.last_poll_ms = Some(at_ms);
            entry.poll_firings += 1;
        }
        entry.triggers.push(trigger.to_string());
    }
}

impl LedgerIndex {
    /// Forgets entries that last fired before `before_ms` for jobs `listed` does not know any more,
    /// as the store's pruning does; returns how many went.
    pub fn prune(&mut self, before_ms: i64, listed: impl Fn(u64) -> bool) -> usize {
        let mut removed = 0;
        for jobs in self.entries.values_mut() {
            let before = jobs.len();
            jobs.retain(|hash, entry| entry.last_ms >= before_ms || listed(*hash));
            removed += before - jobs.len();
        }
        self.entries.retain(|_, jobs| !jobs.is_empty());
        removed
    }
}

/// The trigger a `poll` rule fires with, given its entry for the job; `None`: it must not fire.
pub fn poll_trigger(entry: Option<&Entry>, repeat_ms: Option<i64>, now_ms: i64) -> Option<String> {
    let Some(entry) = entry else { return Some(POLL.into()) };
    let done = entry.poll_firings;
    match (done, repeat_ms, entry.last_poll_ms) {
        (0, _, _) => Some(POLL.into()),
        (_, Some(every), Some(last)) if now_ms - last >= every => Some(format!("{POLL}#{done}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_repeat_fires_once() {
        let mut ledger = LedgerIndex::default();
        assert_eq!(ledger.poll_trigger("r", "j", None, 0).as_deref(), Some("poll"));
        ledger.record("r", "j", "poll", 0);
        assert_eq!(ledger.poll_trigger("r", "j", None, 1_000_000), None);
        assert_eq!(ledger.poll_trigger("r", "other", None, 0).as_deref(), Some("poll"));
    }

    #[test]
    fn repeat_fires_again_after_the_interval_with_a_new_slot() {
        let mut ledger = LedgerIndex::default();
        ledger.record("r", "j", "poll", 0);
        assert_eq!(ledger.poll_trigger("r", "j", Some(60_000), 59_999), None);
        assert_eq!(ledger.poll_trigger("r", "j", Some(60_000), 60_000).as_deref(), Some("poll#1"));
        ledger.record("r", "j", "poll#1", 60_000);
        assert_eq!(ledger.poll_trigger("r", "j", Some(60_000), 119_999), None);
        assert_eq!(ledger.poll_trigger("r", "j", Some(60_000), 120_000).as_deref(), Some("poll#2"));
    }

    #[test]
    fn event_triggers_are_separate() {
        let mut ledger = LedgerIndex::default();
        ledger.record("r", "j", "EXECUTING->FAILED", 5);
        assert!(ledger.fired("r", "j", "EXECUTING->FAILED"));
        assert!(!ledger.fired("r", "j", "appeared"));
        assert_eq!(ledger.poll_trigger("r", "j", None, 10).as_deref(), Some("poll"));
    }

    #[test]
    fn pruning_keeps_recent_and_listed_entries() {
        let mut ledger = LedgerIndex::default();
        ledger.record("r", "old-gone", POLL, 1_000);
        ledger.record("r", "old-listed", POLL, 1_000);
        ledger.record("r", "recent", POLL, 9_000);
        let listed = id_hash("old-listed");
        assert_eq!(ledger.prune(5_000, |h| h == listed), 1);
        assert!(!ledger.fired("r", "old-gone", POLL));
        assert!(ledger.fired("r", "old-listed", POLL) && ledger.fired("r", "recent", POLL));
    }
}
