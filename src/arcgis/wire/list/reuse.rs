//! A list body read by its structure: each item's bytes hashed, an item listed in the same bytes
//! as a known job shares that job, and only the others are parsed. The scan checks the framing;
//! every other byte is parsed by serde_json or is identical to bytes parsed before.

use super::super::scan::Scanner;
use super::{JobList, Jobs, Lenient, WireJob};
use crate::arcgis::model::{Job, Known};
use serde::de;
use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

/// The hash of one item's bytes: never `0`, which stands for "not known".
pub fn raw_hash(bytes: &[u8]) -> u64 {
    crate::text::fx_hash(bytes).max(1)
}

/// What a list read keeps for the next one: the scan's item ranges.
#[derive(Debug, Default)]
pub struct Scratch {
    items: Vec<Range<usize>>,
}

/// The list as the scan reads it; `None` when the body is not one the scan vouches for.
pub(super) fn scanned(body: &[u8], known: Known, scratch: &mut Scratch) -> Option<JobList> {
    let mut scanner = Scanner::new(body);
    let mut list = JobList::default();
    scanner.eat(b'{')?;
    if scanner.eat(b'}').is_none() {
        loop {
            let key = member_key(&body[scanner.string()?])?;
            scanner.eat(b':')?;
            match list.slot(&key) {
                Some(slot) => *slot = listed_jobs(&mut scanner, body, known, &mut scratch.items)?,
                None if key == "total" => {
                    list.total = serde_json::from_slice::<Lenient>(&body[scanner.value()?]).ok()?.0;
                }
                None => drop(serde_json::from_slice::<de::IgnoredAny>(&body[scanner.value()?]).ok()?),
            }
            match scanner.peek()? {
                b',' => scanner.eat(b',')?,
                _ => break scanner.eat(b'}')?,
            }
        }
    }
    scanner.at_end().then_some(list)
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
    let mut list = Jobs { jobs: Vec::with_capacity(capacity), raw: Vec::with_capacity(capacity), items: capacity };
    let mut reuse = Reuse::new(known);
    for range in items.iter() {
        let bytes = &body[range.clone()];
        let hash = raw_hash(bytes);
        let job = match reuse.find(hash) {
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

/// Finds known jobs by the hash of their bytes, walking both lists in order (servers keep it).
struct Reuse<'k> {
    known: Known<'k>,
    cursor: usize,
    misses: usize,
    by_hash: Option<HashMap<u64, usize>>,
}

impl<'k> Reuse<'k> {
    fn new(known: Known<'k>) -> Reuse<'k> {
        let len = known.raw.len().min(known.jobs.len());
        let known = Known { jobs: &known.jobs[..len], raw: &known.raw[..len] };
        Reuse { known, cursor: 0, misses: 0, by_hash: None }
    }

    /// The known job listed in the bytes hashed `hash`.
    fn find(&mut self, hash: u64) -> Option<&'k Arc<Job>> {
        let known = self.known;
        let near = &known.raw[self.cursor.min(known.raw.len())..(self.cursor + LOOKAHEAD).min(known.raw.len())];
        let at = match near.iter().position(|&h| h == hash) {
            Some(offset) => self.cursor + offset,
            None => self.far(hash)?,
        };
        self.cursor = at + 1;
        self.misses = 0;
        known.jobs.get(at)
    }

    /// A job not near the cursor: looked for further ahead (a few gone), and through a map once
    /// the lists have parted (`LOOKAHEAD` misses in a row: jobs moved back, or many new ones).
    fn far(&mut self, hash: u64) -> Option<usize> {
        self.misses += 1;
        let raw = self.known.raw;
        if self.by_hash.is_none() && self.misses <= LOOKAHEAD {
            let ahead = raw.get(self.cursor..)?;
            return ahead.iter().position(|&h| h == hash).map(|offset| self.cursor + offset);
        }
        let map = self
            .by_hash
            .get_or_insert_with(|| raw.iter().enumerate().filter(|(_, &h)| h != 0).map(|(at, &h)| (h, at)).collect());
        map.get(&hash).copied()
    }

    /// A parsed job: when it is the known one at the cursor (changed in place), the cursor moves on.
    fn aligned(&mut self, job: Job) -> Job {
        if self.known.jobs.get(self.cursor).is_some_and(|k| k.id == job.id) {
            self.cursor += 1;
            self.misses = 0;
        }
        job
    }
}
