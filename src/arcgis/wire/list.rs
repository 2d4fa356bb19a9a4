//! The job list body: read in one pass straight into `Job`s, sized from the body's length.

use super::{lenient_i64, Payload, WireJob};
use crate::arcgis::model::Job;
use serde::{de, Deserialize, Deserializer};

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
        while let Some(key) = map.next_key::<std::borrow::Cow<str>>()? {
            let slot = match key.as_ref() {
                "asyncNotebookJobs" => &mut list.enterprise,
                "notebookJobs" => &mut list.enterprise_detailed,
                "asyncJobs" => &mut list.notebook_server,
                "total" => {
                    list.total = map.next_value::<Lenient>()?.0;
                    continue;
                }
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                    continue;
                }
            };
            *slot = map.next_value_seed(Items { capacity: self.capacity })?;
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
    /// `(total, returned)` when Notebook Server says it holds more jobs than it listed.
    pub fn cut_short(&self) -> Option<(i64, usize)> {
        let returned = self.notebook_server.as_ref().map_or(0, |list| list.items);
        self.total.filter(|&t| t > returned as i64).map(|t| (t, returned))
    }

    /// The jobs; items without a `jobId` are dropped.
    pub fn into_jobs(self) -> Vec<Job> {
        self.enterprise.or(self.enterprise_detailed).or(self.notebook_server).unwrap_or_default().jobs
    }
}

/// A list's items, each turned into a `Job` as soon as it is read, so that no second copy of
/// the whole list is ever held.
#[derive(Debug, Default)]
struct Jobs {
    jobs: Vec<Job>,
    /// Items listed, with or without a `jobId`.
    items: usize,
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
        let mut list = Jobs { jobs: Vec::with_capacity(self.capacity), items: 0 };
        while let Some(item) = seq.next_element::<WireJob>()? {
            list.items += 1;
            list.jobs.extend(item.into_job());
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
