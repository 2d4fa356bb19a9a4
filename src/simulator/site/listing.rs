//! The simulated job list in each flavor's shape, and the items it and a job's resource are made of.

use super::{JobState, ListQuery, SimJob, Site};
use crate::config::Flavor;
use crate::simulator::scenario::User;
use serde_json::{json, Value};

impl Site {
    /// The job list in the flavor's shape. A caller who is not an administrator sees only the
    /// jobs they own, with HTTP 200 and no hint that the list is partial (as Enterprise does).
    pub fn list(&mut self, query: &ListQuery, now: i64, caller: &User) -> Value {
        let ListQuery { details, num, newest_first } = *query;
        self.stats.lists += 1;
        let visible = |j: &&SimJob| caller.is_admin() || j.plan.username.as_deref() == Some(caller.username.as_str());
        let listed: Vec<(&SimJob, JobState)> = self
            .jobs
            .iter()
            .filter(visible)
            .filter_map(|j| self.state(j, now).map(|s| (j, s)))
            .filter(|(_, s)| s.listed)
            .collect();
        match self.flavor {
            Flavor::Enterprise if details => {
                json!({ "notebookJobs": listed.iter().map(|(j, s)| detailed_item(j, s)).collect::<Vec<_>>() })
            }
            Flavor::Enterprise => json!({
                "asyncNotebookJobs": listed.iter().map(|(j, s)| {
                    let mut item = json!({
                        "jobId": s.id, "type": j.plan.job_type, "startTime": s.start_ms,
                        "endTime": s.end_ms.unwrap_or(0), "status": s.status, "username": j.plan.username,
                    });
                    if self.list_without_username {
                        item.as_object_mut().map(|o| o.remove("username"));
                    }
                    item
                }).collect::<Vec<_>>()
            }),
            Flavor::NotebookServer => {
                // Oldest first unless `sortByDate=true`; without `detail=true` items carry no status.
                let mut items: Vec<&(&SimJob, JobState)> = listed.iter().collect();
                items.sort_by_key(|(_, s)| s.start_ms);
                if newest_first {
                    items.reverse();
                }
                let item = |(j, s): &&(&SimJob, JobState)| match details {
                    true => classic_item(j, s),
                    false => {
                        json!({ "jobId": s.id, "startTime": s.start_ms, "type": j.plan.job_type, "username": j.plan.username })
                    }
                };
                let page: Vec<Value> = items.iter().take(num).map(item).collect();
                json!({ "asyncJobs": page, "total": listed.len() })
            }
        }
    }
}

fn inputs(job: &SimJob) -> Value {
    json!({
        "itemId": job.plan.item_id.clone().unwrap_or_default(),
        "executionTimeoutInMinutes": job.plan.timeout_minutes.unwrap_or(10_000_000),
        "updatePortalItem": true, "saveInjectedParameters": false,
        "taskId": job.plan.task_id.clone().unwrap_or_default(), "runId": "",
    })
}

/// Enterprise `details=true` item: as documented, without status or start/end times.
pub(super) fn detailed_item(job: &SimJob, state: &JobState) -> Value {
    json!({
        "jobId": state.id, "type": job.plan.job_type, "username": job.plan.username,
        "dateCreated": state.start_ms, "revision": state.start_ms, "privateUrl": "", "url": "",
        "notebookRuntimeName": job.plan.runtime_name.clone().unwrap_or("ArcGIS Notebook Python 3 Standard".into()),
        "notebookRuntimeVersion": "11.0", "inputs": inputs(job),
    })
}

pub(super) fn classic_item(job: &SimJob, state: &JobState) -> Value {
    json!({
        "jobId": state.id, "type": job.plan.job_type, "username": job.plan.username,
        "startTime": state.start_ms, "endTime": state.end_ms.unwrap_or(0), "status": state.status,
        "inputs": inputs(job), "messages": [], "customAttributes": { "isCancelled": state.cancelled },
    })
}
