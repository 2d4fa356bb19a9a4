//! The stored form of a snapshot: a target's listed jobs in compact binary values of up to 1,024
//! jobs each (a format byte, then postcard, then the hash of each job's listed bytes), so that
//! loading a target reads a few rows, not one per job, and its first poll parses only the jobs
//! listed in other bytes since.

use super::{Error, Result};
use crate::arcgis::{Job, Status};
use crate::clock::ServerMs;
use crate::diff::Facts;
use serde::{de, Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

/// The first byte of every packed snapshot; a later layout gets a new one. Format 1 had no hashes.
const FORMAT: u8 = 2;
const WITHOUT_HASHES: u8 = 1;

/// One job as packed: `Job` field for field, without `Job`'s JSON-only attributes (postcard
/// needs every field in every record). Read back, its text borrows the stored bytes.
#[derive(Serialize, Deserialize)]
struct Packed<'a> {
    id: &'a str,
    #[serde(borrow)]
    job_type: Option<&'a str>,
    status: &'a str,
    #[serde(borrow)]
    username: Option<&'a str>,
    started_at: Option<ServerMs>,
    ended_at: Option<ServerMs>,
    #[serde(borrow)]
    item_id: Option<&'a str>,
    #[serde(borrow)]
    runtime_name: Option<&'a str>,
    #[serde(borrow)]
    task_id: Option<&'a str>,
    timeout_minutes: Option<u64>,
    cancelled_flag: bool,
    messages: Cow<'a, [String]>,
}

fn owned(text: Option<&str>) -> Option<String> {
    text.map(str::to_string)
}

impl<'a> From<&'a Job> for Packed<'a> {
    fn from(job: &'a Job) -> Packed<'a> {
        Packed {
            id: &job.id,
            job_type: job.job_type.as_deref(),
            status: job.status.as_str(),
            username: job.username.as_deref(),
            started_at: job.started_at,
            ended_at: job.ended_at,
            item_id: job.item_id.as_deref(),
            runtime_name: job.runtime_name.as_deref(),
            task_id: job.task_id.as_deref(),
            timeout_minutes: job.timeout_minutes,
            cancelled_flag: job.cancelled_flag,
            messages: Cow::Borrowed(job.messages()),
        }
    }
}

impl From<Packed<'_>> for Job {
    fn from(p: Packed<'_>) -> Job {
        let mut job = Job::new(p.id, Status::parse(p.status));
        job.job_type = owned(p.job_type);
        job.username = owned(p.username);
        job.started_at = p.started_at;
        job.ended_at = p.ended_at;
        job.item_id = owned(p.item_id);
        job.runtime_name = owned(p.runtime_name);
        job.task_id = owned(p.task_id);
        job.timeout_minutes = p.timeout_minutes;
        job.cancelled_flag = p.cancelled_flag;
        job.edit(|more| more.messages = p.messages.into_owned());
        job
    }
}

/// The packed form of `jobs`, in their order, with the hash of each one's listed bytes (`raw`).
pub fn pack(jobs: &[Arc<Job>], raw: &[u64]) -> Result<Vec<u8>> {
    struct All<'a>(&'a [Arc<Job>]);
    impl Serialize for All<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            s.collect_seq(self.0.iter().map(|job| Packed::from(&**job)))
        }
    }
    let mut packed = postcard::to_extend(&All(jobs), vec![FORMAT])
        .map_err(|e| Error::DecodeFailed(format!("packing a snapshot: {e}")))?;
    packed.reserve_exact(jobs.len() * 8);
    packed.extend((0..jobs.len()).flat_map(|at| raw.get(at).copied().unwrap_or(0).to_le_bytes()));
    Ok(packed)
}

/// The jobs of a packed snapshot (each in its own `Arc`, as a snapshot holds them) and the hash of
/// each one's listed bytes (`0`: not known); an empty value holds none.
pub fn unpack(bytes: &[u8]) -> Result<(Vec<Arc<Job>>, Vec<u64>)> {
    read(bytes, |packed| Arc::new(Job::from(packed)))
}

/// A packed snapshot read in place: the facts a snapshot keeps of each job, the hash of each one's
/// listed bytes, and the (job id, task id) of each job a scheduled task started.
pub type Scanned = (Vec<Facts>, Vec<u64>, Vec<(String, String)>);

/// What a packed snapshot holds, its jobs read in place and none decoded. Any value `unpack`
/// refuses, this refuses too.
pub fn scan(bytes: &[u8]) -> Result<Scanned> {
    let mut tasks = Vec::new();
    let (facts, raw) = read(bytes, |p| {
        if let Some(task) = p.task_id.filter(|task| !task.is_empty()) {
            tasks.push((p.id.to_string(), task.to_string()));
        }
        Facts::of(p.id, &Status::parse(p.status), p.cancelled_flag, (p.started_at, p.ended_at))
    })?;
    Ok((facts, raw, tasks))
}

/// Each packed job of `bytes`, as `each` makes it of the job read in place, and the hash of each
/// one's listed bytes.
fn read<'a, T>(bytes: &'a [u8], each: impl FnMut(Packed<'a>) -> T) -> Result<(Vec<T>, Vec<u64>)> {
    let unreadable = |detail: String| Error::DecodeFailed(format!("a stored snapshot: {detail}"));
    let (format, body) = match bytes.split_first() {
        None => return Ok((Vec::new(), Vec::new())),
        Some((&format, body)) if format == FORMAT || format == WITHOUT_HASHES => (format, body),
        Some((other, _)) => return Err(unreadable(format!("format {other} is not one this version reads"))),
    };
    let mut input = postcard::Deserializer::from_bytes(body);
    let seed = Each { most: body.len() / MIN_PACKED, each };
    let jobs: Vec<T> = de::DeserializeSeed::deserialize(seed, &mut input).map_err(|e| unreadable(e.to_string()))?;
    let rest = input.finalize().map_err(|e| unreadable(e.to_string()))?;
    let raw = match format {
        FORMAT if rest.len() == jobs.len() * 8 => {
            rest.chunks_exact(8).map(|h| u64::from_le_bytes(h.try_into().unwrap_or_default())).collect()
        }
        FORMAT => return Err(unreadable(format!("{} bytes of hashes for {} jobs", rest.len(), jobs.len()))),
        _ => vec![0; jobs.len()],
    };
    Ok((jobs, raw))
}

/// The fewest bytes one packed job takes (one per field), which bounds what a count may reserve.
const MIN_PACKED: usize = 12;

/// Reads the packed jobs, each made into what `each` makes of it, straight into a vector sized
/// once from the stored count.
struct Each<F> {
    most: usize,
    each: F,
}

impl<'de, T, F: FnMut(Packed<'de>) -> T> de::DeserializeSeed<'de> for Each<F> {
    type Value = Vec<T>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> std::result::Result<Vec<T>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T, F: FnMut(Packed<'de>) -> T> de::Visitor<'de> for Each<F> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("packed jobs")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(mut self, mut seq: A) -> std::result::Result<Vec<T>, A::Error> {
        let mut jobs = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.most));
        while let Some(packed) = seq.next_element::<Packed<'de>>()? {
            jobs.push((self.each)(packed));
        }
        Ok(jobs)
    }
}

/// `base` (with the hash of each job's listed bytes) with the history rows recorded after it
/// applied in order (`(job, listed)`): a changed job replaces its old self in place, a new one is
/// added at the end, a gone one leaves. The hashes of changed and new jobs are not known (`0`).
pub fn replay((base, raw): (Vec<Arc<Job>>, Vec<u64>), changes: Vec<(Job, bool)>) -> (Vec<Arc<Job>>, Vec<u64>) {
    if changes.is_empty() {
        return (base, raw);
    }
    let mut order = Vec::new();
    let mut latest: HashMap<String, Option<Job>> = HashMap::with_capacity(changes.len());
    for (job, listed) in changes {
        if !latest.contains_key(&job.id) {
            order.push(job.id.clone());
        }
        latest.insert(job.id.clone(), listed.then_some(job));
    }
    let kept = base.into_iter().zip(raw.into_iter().chain(std::iter::repeat(0)));
    let (mut jobs, mut raw): (Vec<Arc<Job>>, Vec<u64>) = kept
        .filter_map(|(job, hash)| match latest.remove(&job.id) {
            None => Some((job, hash)),
            Some(changed) => changed.map(|job| (Arc::new(job), 0)),
        })
        .unzip();
    jobs.extend(order.iter().filter_map(|id| latest.remove(id).flatten()).map(Arc::new));
    raw.resize(jobs.len(), 0);
    (jobs, raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ServerMs;

    #[test]
    fn every_field_round_trips_and_bad_bytes_are_an_error() {
        let mut full = Job::new("j1", Status::Cancelled("CANCELED".into()));
        full.job_type = Some("executeNotebook".into());
        full.username = Some("ann".into());
        full.started_at = Some(ServerMs(1));
        full.ended_at = Some(ServerMs(2));
        full.item_id = Some("item".into());
        full.runtime_name = Some("Standard".into());
        full.task_id = Some(String::new());
        full.timeout_minutes = Some(30);
        full.cancelled_flag = true;
        full.edit(|more| more.messages = vec!["Traceback".into()]);
        let jobs = [full, Job::new("j2", Status::Unknown("odd".into())), Job::new("j3", Status::Executing)];
        let shared: Vec<Arc<Job>> = jobs.iter().cloned().map(Arc::new).collect();
        let raw = vec![7, 0, u64::MAX];
        assert_eq!(unpack(&pack(&shared, &raw).unwrap()).unwrap(), (shared.clone(), raw.clone()));
        assert_eq!(unpack(&[]).unwrap(), (Vec::new(), Vec::new()));
        let packed = pack(&shared, &[1, 2, 3]).unwrap();
        assert!(matches!(unpack(&packed[..packed.len() / 2]), Err(Error::DecodeFailed(_))), "cut short");
        assert!(matches!(unpack(&packed[..packed.len() - 1]), Err(Error::DecodeFailed(_))), "a hash cut short");
        assert!(unpack(&[9, 0]).unwrap_err().to_string().contains("format 9"));
        let facts: Vec<Facts> = jobs.iter().map(Facts::of_job).collect();
        let tasks = vec![("j1".to_string(), "t1".to_string())];
        let mut started = shared.clone();
        Arc::make_mut(&mut started[0]).task_id = Some("t1".into());
        assert_eq!(scan(&pack(&started, &raw).unwrap()).unwrap(), (facts, raw.clone(), tasks), "read in place");
        for cut in [&packed[..packed.len() / 2], &packed[..packed.len() - 1], &[9, 0]] {
            assert_eq!(scan(cut).unwrap_err().to_string(), unpack(cut).unwrap_err().to_string(), "refused alike");
        }
        let mut first_format = packed[..packed.len() - 24].to_vec();
        first_format[0] = WITHOUT_HASHES;
        assert_eq!(unpack(&first_format).unwrap(), (shared, vec![0; 3]), "format 1 is read, its hashes not known");
    }

    #[test]
    fn history_rows_complete_the_packed_jobs_in_order() {
        let job = |id: &str, status| Job::new(id, status);
        let base = vec![job("a", Status::Executing), job("b", Status::Executing), job("c", Status::Executing)];
        let changes = vec![
            (job("b", Status::Failed), true),
            (job("new", Status::Submitted), true),
            (job("c", Status::Completed), false),
            (job("new", Status::Executing), true),
            (job("never-packed", Status::Failed), false),
        ];
        let (jobs, raw) = replay((base.into_iter().map(Arc::new).collect(), vec![1, 2, 3]), changes);
        let got: Vec<(String, String)> = jobs.iter().map(|j| (j.id.clone(), j.status.as_str().to_string())).collect();
        let want = [("a", "EXECUTING"), ("b", "FAILED"), ("new", "EXECUTING")];
        assert_eq!(got, want.map(|(i, s)| (i.to_string(), s.to_string())));
        assert_eq!(raw, [1, 0, 0], "a changed or new job's listed bytes are not known");
    }
}
