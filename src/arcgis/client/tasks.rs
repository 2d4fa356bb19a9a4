//! The org's scheduled notebook tasks through the Portal sharing API: every task, a page at a
//! time until `nextStart` is -1 (the portal's id from `portals/self`, as the site information
//! read after each sign-in keeps it), and one task's runs.

use super::{Call, Client};
use crate::arcgis::tasks::{RunsPage, Task, TaskPage, TaskRun};
use crate::arcgis::wire::PortalSelf;
use crate::arcgis::{Error, Result};

/// Tasks asked for per page (the most Portal gives).
const PAGE: usize = 100;
/// Pages read at most (100,000 tasks): a server whose `nextStart` never ends cannot loop us.
const MAX_PAGES: usize = 1_000;

impl Client {
    /// Every scheduled notebook task of the org (needs an administrator).
    pub async fn scheduled_tasks(&self) -> Result<Vec<Task>> {
        let id = match self.site_info().await.portal_id {
            Some(id) => id,
            None => self.portal_id().await?,
        };
        let url = self.endpoints.all_tasks(&id).ok_or(Error::NoPortal { what: "reading scheduled tasks" })?;
        let mut tasks = Vec::new();
        let mut start = 1i64;
        for _ in 0..MAX_PAGES {
            let params = vec![
                ("f", "json".to_string()),
                ("types", "ExecuteNotebook".into()),
                ("start", start.to_string()),
                ("num", PAGE.to_string()),
            ];
            let page: TaskPage = self.authed(Call::get(url.clone(), params)).await?;
            tasks.extend(page.tasks.unwrap_or_default().into_iter().filter_map(|t| t.task()));
            match page.next_start {
                Some(next) if next > start => start = next,
                _ => return Ok(tasks),
            }
        }
        Ok(tasks)
    }

    /// The portal's id, read from `portals/self` (the site information keeps it once read).
    async fn portal_id(&self) -> Result<String> {
        let own = self.endpoints.portal_self().ok_or(Error::NoPortal { what: "reading scheduled tasks" })?;
        let portal: PortalSelf = self.authed(Call::get(own.clone(), vec![("f", "json".into())])).await?;
        portal.id.filter(|i| !i.is_empty()).ok_or(Error::UnexpectedShape { url: own, expected: "the portal's id" })
    }

    /// The runs of `owner`'s task `task_id`, oldest first.
    pub async fn task_runs(&self, owner: &str, task_id: &str) -> Result<Vec<TaskRun>> {
        let url = self.endpoints.task_runs(owner, task_id).ok_or(Error::NoPortal { what: "reading a task's runs" })?;
        let page: RunsPage = self.authed(Call::get(url, vec![("f", "json".into())])).await?;
        let mut runs: Vec<TaskRun> = page.runs.unwrap_or_default().into_iter().filter_map(|r| r.run()).collect();
        runs.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        Ok(runs)
    }
}
