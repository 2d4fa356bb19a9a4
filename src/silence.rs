//! Silences (SPEC §4.16), in the manner of Alertmanager's: time-bound matchers that hold back the
//! firings they cover. Written by `nbwarden silence add`, kept in the state store, read by the
//! daemon at each poll. Pure: which silence covers a firing, and whether it is in force.

use crate::arcgis::NamedJob;
use crate::clock::LocalMs;
use crate::rules::glob_matches;
use serde::{Deserialize, Serialize};

/// One matcher of a silence; a silence covers a firing when all of its matchers do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matcher {
    /// The job (its id, exactly).
    Job(String),
    /// The job's owner (a glob).
    User(String),
    /// The notebook item (its id, exactly).
    Item(String),
    /// The notebook's title (a glob).
    Title(String),
    /// The rule (its name, exactly).
    Rule(String),
    /// The target (its name, exactly).
    Target(String),
}

impl Matcher {
    fn covers(&self, target: &str, rule: &str, job: &NamedJob) -> bool {
        let same = |a: &str, b: Option<&str>| b.is_some_and(|b| a.eq_ignore_ascii_case(b));
        let glob = |pattern: &str, text: Option<&str>| text.is_some_and(|t| glob_matches(pattern, t));
        match self {
            Matcher::Job(id) => id == &job.id,
            Matcher::User(pattern) => glob(pattern, job.username.as_deref()),
            Matcher::Item(item) => same(item, job.item_id.as_deref()),
            Matcher::Title(pattern) => glob(pattern, job.title()),
            Matcher::Rule(name) => name == rule,
            Matcher::Target(name) => name == target,
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (key, value) = match self {
            Matcher::Job(v) => ("job", v),
            Matcher::User(v) => ("user", v),
            Matcher::Item(v) => ("item", v),
            Matcher::Title(v) => ("title", v),
            Matcher::Rule(v) => ("rule", v),
            Matcher::Target(v) => ("target", v),
        };
        write!(f, "{key}={}", crate::text::sanitize(value))
    }
}

/// A silence: matchers, a time span on this machine's clock, and who set it and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    /// A short random id, for `silence expire`.
    pub id: String,
    /// All must cover a firing.
    pub matchers: Vec<Matcher>,
    /// From.
    pub starts: LocalMs,
    /// Until (an expired silence ends when it was expired).
    pub ends: LocalMs,
    /// Why.
    pub comment: String,
    /// Who.
    pub author: String,
}

impl Silence {
    /// In force at `now`.
    pub fn active(&self, now: LocalMs) -> bool {
        self.starts <= now && now < self.ends
    }

    /// Whether it covers a firing of `rule` on `target` for `job`.
    pub fn covers(&self, target: &str, rule: &str, job: &NamedJob) -> bool {
        !self.matchers.is_empty() && self.matchers.iter().all(|m| m.covers(target, rule, job))
    }

    /// "job=j1 user=joe*".
    pub fn matchers_text(&self) -> String {
        self.matchers.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
    }
}

/// The silence in force at `now` that covers the firing, if any (the one that ends last).
pub fn covering<'a>(
    silences: &'a [Silence],
    now: LocalMs,
    (target, rule, job): (&str, &str, &NamedJob),
) -> Option<&'a Silence> {
    silences.iter().filter(|s| s.active(now) && s.covers(target, rule, job)).max_by_key(|s| s.ends)
}

/// A new silence id: 8 hex digits from the OS's randomness (via the standard hasher's keys).
pub fn new_id() -> String {
    use std::hash::{BuildHasher, RandomState};
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{:08x}", RandomState::new().hash_one(nanos) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arcgis::Status;

    fn silence(matchers: Vec<Matcher>) -> Silence {
        Silence {
            id: "s1".into(),
            matchers,
            starts: LocalMs(100),
            ends: LocalMs(200),
            comment: "c".into(),
            author: "a".into(),
        }
    }

    #[test]
    fn every_matcher_must_cover_the_firing_while_the_silence_is_in_force() {
        let mut job = crate::arcgis::Job::new("j1", Status::Executing);
        job.username = Some("svc_etl".into());
        job.item_id = Some("ABC".into());
        let mut job = NamedJob::from(job);
        let notebook = Some(crate::arcgis::Item { title: Some("Nightly load".into()), ..Default::default() });
        job.name(std::sync::Arc::new(crate::arcgis::Names { notebook, task_title: None }));
        let each = [
            Matcher::Job("j1".into()),
            Matcher::User("svc_*".into()),
            Matcher::Item("abc".into()),
            Matcher::Title("nightly*".into()),
            Matcher::Rule("runaway".into()),
            Matcher::Target("prod".into()),
        ];
        for matcher in &each {
            assert!(silence(vec![matcher.clone()]).covers("prod", "runaway", &job), "{matcher}");
        }
        let all = silence(each.to_vec());
        assert!(all.covers("prod", "runaway", &job));
        assert!(!all.covers("dev", "runaway", &job), "one matcher fails: not covered");
        assert!(!all.covers("prod", "other", &job));
        assert!(!silence(vec![Matcher::Job("j2".into())]).covers("prod", "runaway", &job));
        assert!(!silence(Vec::new()).covers("prod", "runaway", &job), "no matcher covers nothing");
        let silences = [all];
        assert!(covering(&silences, LocalMs(99), ("prod", "runaway", &job)).is_none(), "not yet");
        assert_eq!(covering(&silences, LocalMs(100), ("prod", "runaway", &job)).map(|s| s.id.as_str()), Some("s1"));
        assert!(covering(&silences, LocalMs(200), ("prod", "runaway", &job)).is_none(), "ended");
        assert_eq!(silences[0].matchers_text(), "job=j1 user=svc_* item=abc title=nightly* rule=runaway target=prod");
    }
}
