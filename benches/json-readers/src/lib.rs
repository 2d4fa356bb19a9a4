//! The job list the readers are compared on, and the job as nbwarden's wire module reads it
//! (`src/arcgis/wire.rs`, without its lenient number and status readers).

use serde::Deserialize;

/// One listed job.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WireJob {
    pub job_id: Option<String>,
    #[serde(rename = "type")]
    pub job_type: Option<String>,
    pub status: Option<String>,
    pub username: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub inputs: Option<Inputs>,
}

/// `inputs` of a listed job.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Inputs {
    pub item_id: Option<String>,
}

/// An Enterprise job list.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct List {
    pub async_notebook_jobs: Vec<WireJob>,
}

/// A list of `n` jobs shaped as the simulator lists them (about 130 bytes a job).
pub fn body(n: usize) -> Vec<u8> {
    let now = 1_800_000_000_000i64;
    let items: Vec<String> = (0..n)
        .map(|i| {
            let start = now - (i as i64 % 4000) * 1000;
            let (status, end) = if i % 10 == 0 { ("EXECUTING", 0) } else { ("COMPLETED", start + 1000) };
            format!(
                r#"{{"jobId":"j{i:06}","type":"executeNotebook","status":"{status}","username":"u{}","startTime":{start},"endTime":{end},"inputs":{{"itemId":"{:032x}"}}}}"#,
                i % 500,
                i % 97
            )
        })
        .collect();
    format!(r#"{{"asyncNotebookJobs":[{}]}}"#, items.join(",")).into_bytes()
}
