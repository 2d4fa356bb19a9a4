//! The job list body: scanned for each item's bytes, and only the items not listed in the same
//! bytes at the previous poll parsed (`JobList::read`, `list/reuse.rs`); or read whole in one
//! pass straight into `Job`s, sized from the body's length (`from_json`), which the scan falls
//! back to whenever it cannot vouch for a body.

use super::{lenient_i64, Payload, WireJob};
use crate::arcgis::model::{Job, Known, ListKey, Listed, ListedBody};
use serde::{de, Deserialize, Deserializer};
use std::borrow::Cow;
use std::sync::Arc;

mod reuse;
pub use reuse::{raw_hash, structure, Scratch};

/// The job list, under any of the three documented keys.
#[derive(Debug, Default)]
pub struct JobList {
    /// `asyncNotebookJobs`.
    enterprise: Option<Jobs>,
    /// `notebookJobs`.
    enterprise_detailed: Option<Jobs>,
    /// `asyncJobs`.
    notebook_server: Option<Jobs>,
    total: Option<i64>,
    /// How to know this body again, when the scan read it.
    seen: Option<ListedBody>,
}

/// Bytes of a list per job, about, at least: a list's length sizes its job vector once.
const LISTED_BYTES_PER_JOB: usize = 128;

impl<'de> Deserialize<'de> for JobList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JobList, D::Error> {
        d.deserialize_map(Lists { capacity: 0 })
    }
}

/// Reads a list body into a `JobList`, reserving room for `capacity` jobs.
struct Lists {
    capacity: usize,
}

impl<'de> de::Visitor<'de> for Lists {
    type Value = JobList;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a job list")
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<JobList, A::Error> {
        let mut list = JobList::default();
        while let Some(key) = map.next_key::<Cow<str>>()? {
            match list.slot(&key) {
                Some(slot) => *slot = map.next_value_seed(Items { capacity: self.capacity })?,
                None if key == "total" => list.total = map.next_value::<Lenient>()?.0,
                None => drop(map.next_value::<de::IgnoredAny>()?),
            }
        }
        Ok(list)
    }
}

/// A list body with nothing after it.
fn read_whole<'de, R: serde_json::de::Read<'de>>(
    input: &mut serde_json::Deserializer<R>,
    lists: Lists,
) -> serde_json::Result<JobList> {
    let list = input.deserialize_map(lists)?;
    input.end()?;
    Ok(list)
}

/// A number read leniently (see `lenient_i64`).
struct Lenient(Option<i64>);

impl<'de> Deserialize<'de> for Lenient {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Lenient, D::Error> {
        lenient_i64(d).map(Lenient)
    }
}

impl JobList {
    /// Reads a list body, sharing each job listed in the same bytes as one of `known` and parsing
    /// the others; `scratch` keeps the scan's buffer from one poll to the next. The body `known`
    /// was read from is known again (all of `known`, nothing scanned). A body the scan
    /// cannot vouch for is read whole (`from_json`), so the result is always that of a full parse
    /// (but for a hash collision, see SECURITY.md).
    pub fn read(body: &[u8], known: Known, scratch: &mut Scratch) -> serde_json::Result<JobList> {
        let whole = raw_hash(body);
        if let Some(list) = reuse::again(whole, known) {
            return Ok(list);
        }
        match reuse::scanned(body, known, scratch) {
            Some(list) => Ok(JobList { seen: reuse::seen(whole, &list), ..list }),
            None => JobList::from_json(body),
        }
    }

    /// Where the list under `key` goes, if `key` names one of the three.
    fn slot(&mut self, key: &str) -> Option<&mut Option<Jobs>> {
        Some(self.slot_of(key.parse().ok()?))
    }

    /// Where the list under `key` goes.
    fn slot_of(&mut self, key: ListKey) -> &mut Option<Jobs> {
        match key {
            ListKey::Enterprise => &mut self.enterprise,
            ListKey::EnterpriseDetailed => &mut self.enterprise_detailed,
            ListKey::NotebookServer => &mut self.notebook_server,
        }
    }

    /// `(total, returned)` when Notebook Server says it holds more jobs than it listed.
    pub fn cut_short(&self) -> Option<(i64, usize)> {
        let returned = self.notebook_server.as_ref().map_or(0, |list| list.items);
        self.total.filter(|&t| t > returned as i64).map(|t| (t, returned))
    }

    /// The jobs and the hash of the bytes each was listed as (`0`: not known); items without a
    /// `jobId` are dropped.
    pub fn into_listed(self) -> Listed {
        let seen = self.seen;
        let jobs = self.into_list();
        jobs.again.unwrap_or_else(|| Listed::new(jobs.jobs, jobs.raw).from_body(seen))
    }

    /// The jobs, owned; items without a `jobId` are dropped.
    pub fn into_jobs(self) -> Vec<Job> {
        let jobs = self.into_list();
        match jobs.again {
            Some(listed) => listed.jobs().iter().map(|job| Job::clone(job)).collect(),
            None => jobs.jobs.into_iter().map(Arc::unwrap_or_clone).collect(),
        }
    }

    fn into_list(self) -> Jobs {
        self.enterprise.or(self.enterprise_detailed).or(self.notebook_server).unwrap_or_default()
    }
}

/// A list's items, each turned into a `Job` as soon as it is read, so that no second copy of
/// the whole list is ever held.
#[derive(Debug, Default)]
struct Jobs {
    jobs: Vec<Arc<Job>>,
    /// The hash of each job's listed bytes (`0`: not known).
    raw: Vec<u64>,
    /// Items listed, with or without a `jobId`.
    items: usize,
    /// The previous poll's whole list, when the body is the same again (`jobs` and `raw` then
    /// empty).
    again: Option<Listed>,
}

/// Reads a list's items (or `null`: no list) into `Jobs`, reserving room for `capacity`.
struct Items {
    capacity: usize,
}

impl<'de> de::DeserializeSeed<'de> for Items {
    type Value = Option<Jobs>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Jobs>, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> de::Visitor<'de> for Items {
    type Value = Option<Jobs>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of jobs")
    }
    fn visit_none<E>(self) -> Result<Option<Jobs>, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Option<Jobs>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<Jobs>, D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Jobs>, A::Error> {
        let mut list = Jobs { jobs: Vec::with_capacity(self.capacity), ..Jobs::default() };
        while let Some(item) = seq.next_element::<WireJob>()? {
            list.items += 1;
            list.jobs.extend(item.into_job().map(Arc::new));
        }
        Ok(Some(list))
    }
}

impl Payload for JobList {
    const EXPECTED: &'static str = "a job list (asyncNotebookJobs, notebookJobs or asyncJobs)";
    fn is_payload(&self) -> bool {
        self.enterprise.is_some() || self.enterprise_detailed.is_some() || self.notebook_server.is_some()
    }
    fn from_json(body: &[u8]) -> serde_json::Result<JobList> {
        let lists = Lists { capacity: body.len() / LISTED_BYTES_PER_JOB };
        // The body checked for UTF-8 once, not string by string; a body that fails the check is
        // read as bytes, for serde_json's own account of where and why.
        match std::str::from_utf8(body) {
            Ok(text) => read_whole(&mut serde_json::Deserializer::from_str(text), lists),
            Err(_) => read_whole(&mut serde_json::Deserializer::from_slice(body), lists),
        }
    }
}
