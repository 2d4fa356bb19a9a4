//! A list body read by its structure: each item's bytes hashed, an item listed in the same bytes
//! as a known job shares that job, and only the others are parsed. The scan checks the framing;
//! every other byte is parsed by serde_json or is identical to bytes parsed before.

use super::super::scan::Scanner;
use super::{JobList, Jobs, Lenient, WireJob};
use crate::arcgis::model::{Job, Known, ListKey, ListedBody};
use serde::de;
use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

/// The hash of one item's bytes (XXH3, 64 bits; stable across builds, so the stored ones stay
/// useful): never `0`, which stands for "not known".
pub fn raw_hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes).max(1)
}

/// What a list read keeps for the next one: the scan's item ranges.
#[derive(Debug, Default)]
pub struct Scratch {
    items: Vec<Range<usize>>,
}

/// The list again when `known` was read from this very `body`: every job shared, nothing scanned.
pub(super) fn again(body: u64, known: Known) -> Option<JobList> {
    let listed = known.0?;
    let seen = listed.body.filter(|seen| seen.body == body && seen.listed == crate::text::fx_hash(&listed.raw))?;
    let mut list = JobList { total: seen.total, ..JobList::default() };
    *list.slot_of(seen.key) = Some(Jobs { items: seen.items, again: Some(listed.clone()), ..Jobs::default() });
    Some(list)
}

/// How to know a body the scan read again (`None` for a body with other than one list).
pub(super) fn seen(body: u64, list: &JobList) -> Option<ListedBody> {
    let keys = [
        (ListKey::Enterprise, &list.enterprise),
        (ListKey::EnterpriseDetailed, &list.enterprise_detailed),
        (ListKey::NotebookServer, &list.notebook_server),
    ];
    let mut present = keys.into_iter().filter_map(|(key, jobs)| Some((key, jobs.as_ref()?)));
    let (key, jobs) = present.next()?;
    present.next().is_none().then(|| ListedBody {
        body,
        listed: crate::text::fx_hash(jobs.raw.as_slice()),
        key,
        items: jobs.items,
        total: list.total,
    })
}

/// The list as the scan reads it; `None` when the body is not one the scan vouches for.
pub(super) fn scanned(body: &[u8], known: Known, scratch: &mut Scratch) -> Option<JobList> {
    let mut list = JobList::default();
    members(body, |key, scanner| {
        match list.slot(key) {
            Some(slot) => *slot = listed_jobs(scanner, body, known, &mut scratch.items)?,
            None if key == "total" => list.total = serde_json::from_slice::<Lenient>(&body[scanner.value()?]).ok()?.0,
            None => drop(serde_json::from_slice::<de::IgnoredAny>(&body[scanner.value()?]).ok()?),
        }
        Some(())
    })?;
    Some(list)
}

/// The structural scan alone, nothing hashed or parsed: how many items the body's job lists hold.
/// The floor under any read of a list, for the benchmarks.
pub fn structure(body: &[u8], scratch: &mut Scratch) -> Option<usize> {
    let mut items = 0;
    members(body, |key, scanner| {
        match key {
            "asyncNotebookJobs" | "notebookJobs" | "asyncJobs" => {
                if !scanner.null() {
                    scanner.items(&mut scratch.items)?;
                    items += scratch.items.len();
                }
            }
            _ => {
                scanner.value()?;
            }
        }
        Some(())
    })?;
    Some(items)
}

/// Walks the body's top-level object, handing each member's key to `member` with the scanner at
/// its value, which `member` reads; `None` when the framing is not one JSON object.
fn members<'b>(body: &'b [u8], mut member: impl FnMut(&str, &mut Scanner<'b>) -> Option<()>) -> Option<()> {
    let mut scanner = Scanner::new(body);
    scanner.eat(b'{')?;
    if scanner.eat(b'}').is_none() {
        loop {
            let key = member_key(&body[scanner.string()?])?;
            scanner.eat(b':')?;
            member(&key, &mut scanner)?;
            match scanner.peek()? {
                b',' => scanner.eat(b',')?,
                _ => break scanner.eat(b'}')?,
            }
        }
    }
    scanner.at_end().then_some(())
}

/// A member's key as a full parse reads it: plain ASCII as it is, anything else through serde_json.
fn member_key(quoted: &[u8]) -> Option<Cow<'_, str>> {
    let inner = &quoted[1..quoted.len() - 1];
    match inner.iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'\\') {
        true => std::str::from_utf8(inner).ok().map(Cow::Borrowed),
        false => serde_json::from_slice::<String>(quoted).ok().map(Cow::Owned),
    }
}

/// The items of the list here (or `null`: no list): each listed in the same bytes as one of
/// `known` is shared, the others parsed; `None` when an item does not parse.
fn listed_jobs(
    scanner: &mut Scanner,
    body: &[u8],
    known: Known,
    items: &mut Vec<Range<usize>>,
) -> Option<Option<Jobs>> {
    if scanner.null() {
        return Some(None);
    }
    scanner.items(items)?;
    let capacity = items.len();
    let mut list =
        Jobs { jobs: Vec::with_capacity(capacity), raw: Vec::with_capacity(capacity), items: capacity, again: None };
    let mut reuse = Reuse::new(known);
    for range in items.iter() {
        let bytes = &body[range.clone()];
        let hash = raw_hash(bytes);
        let job = match reuse.find(hash, bytes) {
            Some(job) => job.clone(),
            None => match serde_json::from_slice::<WireJob>(bytes).ok()?.into_job() {
                Some(job) => Arc::new(reuse.aligned(job)),
                None => continue,
            },
        };
        list.jobs.push(job);
        list.raw.push(hash);
    }
    Some(Some(list))
}

/// How far ahead of the last shared job a listed job is looked for among the known ones.
const LOOKAHEAD: usize = 8;

/// How far ahead a job not found near the cursor is looked for (jobs gone in between), before it is
/// parsed: a few hundred hashes, compared in well under a microsecond.
const FAR: usize = 256;

/// Finds known jobs by the hash of their bytes, walking both lists in order (servers keep it).
/// Parsed jobs that are not the known one at the cursor (new, or moved) count as misses; after
/// `LOOKAHEAD` of them in a row the lists are taken to have parted, and a map finds the rest.
struct Reuse<'k> {
    /// The known jobs and the hashes of their listed bytes, cut to the same length.
    known: (&'k [Arc<Job>], &'k [u64]),
    cursor: usize,
    misses: usize,
    by_hash: Option<HashMap<u64, usize>>,
}

impl<'k> Reuse<'k> {
    fn new(known: Known<'k>) -> Reuse<'k> {
        let (jobs, raw) = (known.jobs(), known.raw());
        let len = raw.len().min(jobs.len());
        let known = (&jobs[..len], &raw[..len]);
        Reuse { known, cursor: 0, misses: 0, by_hash: None }
    }

    /// The known job listed in `bytes` (hashed `hash`). A job whose id is not in the bytes is
    /// never taken, so that a crafted collision can only make a job look as it was, not as another.
    fn find(&mut self, hash: u64, bytes: &[u8]) -> Option<&'k Arc<Job>> {
        let (jobs, raw) = self.known;
        let at = match &self.by_hash {
            Some(map) => *map.get(&hash)?,
            None => {
                let ahead = raw.get(self.cursor..(self.cursor + FAR).min(raw.len()))?;
                self.cursor + ahead.iter().position(|&h| h == hash)?
            }
        };
        let job = jobs.get(at).filter(|job| memchr::memmem::find(bytes, job.id.as_bytes()).is_some())?;
        self.cursor = at + 1;
        self.misses = 0;
        Some(job)
    }

    /// A parsed job: when it is the known one at the cursor or a little after it (changed in
    /// place), the cursor moves past it; otherwise it is a miss.
    fn aligned(&mut self, job: Job) -> Job {
        let jobs = self.known.0;
        let near = jobs.get(self.cursor..(self.cursor + LOOKAHEAD).min(jobs.len())).unwrap_or_default();
        match near.iter().position(|k| k.id == job.id) {
            Some(offset) => {
                self.cursor += offset + 1;
                self.misses = 0;
            }
            None => self.missed(),
        }
        job
    }

    /// One more miss in a row: at `LOOKAHEAD`, the map of every known hash is made, once.
    fn missed(&mut self) {
        self.misses += 1;
        if self.misses >= LOOKAHEAD && self.by_hash.is_none() {
            let raw = self.known.1;
            self.by_hash = Some(raw.iter().enumerate().filter(|(_, &h)| h != 0).map(|(at, &h)| (h, at)).collect());
        }
    }
}
