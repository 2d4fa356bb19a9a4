//! Any bytes as an answer to the job-list call: decoded (HTML, envelopes, truncated JSON, every
//! list shape), turned into jobs and diffed; nothing may panic, and a snapshot diffed against a
//! snapshot built afresh from copies of its jobs has no events (the same snapshot on both sides
//! would only compare each fingerprint with itself).

#![no_main]

use libfuzzer_sys::fuzz_target;
use nbwarden::arcgis::client::decode;
use nbwarden::arcgis::wire::JobList;

fuzz_target!(|data: &[u8]| {
    let (status, content_type) = match data.first() {
        Some(b) if b % 4 == 0 => (500, "text/html"),
        Some(b) if b % 4 == 1 => (498, "application/json"),
        _ => (200, "application/json"),
    };
    if let Ok(list) =
        decode::<JobList>("https://gis.example.com/portal/admin/notebooks/jobs", status, content_type, None, data)
    {
        let _ = list.cut_short();
        let jobs = list.into_jobs();
        let copy = nbwarden::diff::snapshot(jobs.clone());
        let snapshot = nbwarden::diff::snapshot(jobs);
        let delta = nbwarden::diff::diff(Some(&copy), &snapshot);
        assert!(delta.events.is_empty() && delta.upserts.is_empty());
    }
});
