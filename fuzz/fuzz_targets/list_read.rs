//! Any bytes as two job lists, the previous poll's and this one's (split where the first byte
//! says): the reusing read of the second (`JobList::read`), knowing the jobs read from the first,
//! must give what the full parse gives (the same jobs, the same cut-short count) or fail when it
//! fails; nothing may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nbwarden::arcgis::wire::{JobList, Payload, Scratch};
use nbwarden::arcgis::Known;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let split = (first as usize * 4).min(rest.len());
    let (prev, body) = rest.split_at(split);
    let mut scratch = Scratch::default();
    let known = JobList::read(prev, Known::default(), &mut scratch).map(JobList::into_listed).unwrap_or_default();
    let full = JobList::from_json(body);
    let fast = JobList::read(body, Known(Some(&known)), &mut scratch);
    match (full, fast) {
        (Ok(full), Ok(fast)) => {
            assert_eq!((full.is_payload(), full.cut_short()), (fast.is_payload(), fast.cut_short()));
            assert_eq!(full.into_jobs(), fast.into_jobs());
        }
        (Err(_), Err(_)) => {}
        (full, fast) => panic!("full {:?} but reusing {:?}", full.is_ok(), fast.is_ok()),
    }
});
