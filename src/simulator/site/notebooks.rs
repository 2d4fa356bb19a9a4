//! Open interactive notebooks of the simulated site (docs/notebooks-api.md), on both flavors:
//! each runs in its owner's container (Notebook Server) or deployment (Kubernetes) of its runtime;
//! its activity moves when the scenario says it is in use, or when a test touches it; a
//! `closeNotebook` closes it. Notebook Server pages `<admin>/notebooks` (`start`, `num` up to
//! 100, `total`, `nextStart`) and writes `dateLastActivity` as a string; Kubernetes lists them all
//! with `itemTitle` and `notebookDeploymentId`, and writes numbers.

use super::{Refusal, Site};
use crate::config::{ConfigDuration, Flavor};
use crate::simulator::scenario::Offset;
use serde::Deserialize;
use serde_json::{json, Value};

/// One open notebook of the scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotebookPlan {
    /// Its id in its container or deployment.
    pub id: String,
    /// Its Portal item.
    pub item_id: String,
    /// The item's title.
    #[serde(default)]
    pub title: Option<String>,
    /// Its owner.
    pub owner: String,
    /// The runtime of its container or deployment.
    #[serde(default = "standard")]
    pub runtime: String,
    /// When its container or deployment started, from the simulator's start (signed).
    #[serde(default = "an_hour_ago")]
    pub opened: Offset,
    /// Its last activity, from the simulator's start (signed).
    #[serde(default)]
    pub active: Offset,
    /// In use: its activity moves this often.
    #[serde(default)]
    pub active_every: Option<ConfigDuration>,
    /// Someone works in it whenever it is read on its own (as before a close): its activity
    /// moves to that instant.
    #[serde(default)]
    pub busy_when_read: bool,
}

fn standard() -> String {
    "ArcGIS Notebook Python 3 Standard".into()
}

fn an_hour_ago() -> Offset {
    Offset(-3_600_000)
}

/// A notebook and what happened to it.
#[derive(Debug, Clone)]
pub(super) struct SimNotebook {
    plan: NotebookPlan,
    touched_ms: Option<i64>,
    closed: bool,
}

impl SimNotebook {
    pub(super) fn new(plan: NotebookPlan) -> SimNotebook {
        SimNotebook { plan, touched_ms: None, closed: false }
    }

    /// Its container's or deployment's id: one per owner and runtime.
    fn host(&self) -> String {
        let runtime: String = self.plan.runtime.chars().filter(char::is_ascii_alphanumeric).collect();
        format!("{}{}", self.plan.owner, runtime).to_ascii_lowercase()
    }

    fn last_activity(&self, started_ms: i64, now_ms: i64) -> i64 {
        let planned = started_ms + self.plan.active.0;
        let moving = self.plan.active_every.map(|every| {
            let every = (every.0.as_millis() as i64).max(1);
            planned + (now_ms - planned).max(0) / every * every
        });
        [Some(planned), moving, self.touched_ms].into_iter().flatten().max().unwrap_or(planned).min(now_ms)
    }
}

impl Site {
    /// `<admin>/notebooks`: Notebook Server a page at a time, Kubernetes all at once.
    pub fn open_notebooks(&self, (start, num): (usize, usize), now_ms: i64) -> Value {
        let open: Vec<Value> = self.open().map(|n| self.notebook_json(n, now_ms)).collect();
        match self.flavor {
            Flavor::Enterprise => json!({ "notebooks": open, "operations": ["openNotebook", "executeNotebook"] }),
            Flavor::NotebookServer => {
                let (start, num) = (start.max(1), num.clamp(1, 100));
                let page: Vec<Value> = open.iter().skip(start - 1).take(num).cloned().collect();
                let next = if start - 1 + page.len() < open.len() { (start + page.len()) as i64 } else { -1 };
                json!({ "notebooks": page, "total": open.len(), "start": start, "num": num, "nextStart": next })
            }
        }
    }

    /// `system/containers` or `notebooks/deployments`: one per owner and runtime in use.
    pub fn notebook_hosts(&self) -> Value {
        let mut hosts: Vec<(String, &SimNotebook)> = self.open().map(|n| (n.host(), n)).collect();
        hosts.sort_by(|a, b| a.0.cmp(&b.0));
        hosts.dedup_by(|a, b| a.0 == b.0);
        let record = |(id, n): &(String, &SimNotebook)| {
            let created = self.started_ms + n.plan.opened.0;
            match self.flavor {
                Flavor::Enterprise => json!({
                    "id": id, "username": n.plan.owner, "type": "openNotebook", "url": format!("/notebooks/{id}"),
                    "notebookRuntimeName": n.plan.runtime, "notebookRuntimeId": format!("rt-{id}"),
                    "notebookRuntimeVersion": "10.0", "dateCreated": created, "privateUrl": "",
                }),
                Flavor::NotebookServer => json!({
                    "containerId": id, "id": format!("item-{id}"), "username": n.plan.owner, "type": "openNotebook",
                    "notebookRuntimeName": n.plan.runtime, "notebookRuntimeId": format!("rt-{id}"),
                    "dateCreated": created.to_string(), "memory": 6144, "cpus": 2,
                }),
            }
        };
        match self.flavor {
            Flavor::Enterprise => json!({ "nbDeployments": hosts.iter().map(record).collect::<Vec<_>>() }),
            Flavor::NotebookServer => json!({ "containers": hosts.iter().map(record).collect::<Vec<_>>() }),
        }
    }

    /// One open notebook (in deployment `host` on Kubernetes).
    pub fn open_notebook(&mut self, host: Option<&str>, id: &str, now_ms: i64) -> Result<Value, Refusal> {
        self.stats.notebook_reads += 1;
        let busy = self.find_notebook(host, id)?.plan.busy_when_read;
        if busy {
            self.touch_notebook(id, now_ms);
        }
        let notebook = self.find_notebook(host, id)?;
        Ok(self.notebook_json(notebook, now_ms))
    }

    /// `closeNotebook`: the notebook is closed and leaves the list.
    pub fn close_notebook(&mut self, host: Option<&str>, id: &str) -> Result<Value, Refusal> {
        *self.stats.closes.entry(id.to_string()).or_default() += 1;
        let index = self.notebooks.iter().position(|n| n.plan.id == id && !n.closed);
        let index = index.filter(|i| host.is_none_or(|h| self.notebooks[*i].host() == h));
        let index = index.ok_or((404, format!("Notebook {id} not found.")))?;
        self.notebooks[index].closed = true;
        Ok(json!({ "status": "success" }))
    }

    /// Marks activity in a notebook now (someone ran a cell).
    pub fn touch_notebook(&mut self, id: &str, now_ms: i64) -> bool {
        let found = self.notebooks.iter_mut().find(|n| n.plan.id == id && !n.closed);
        found.map(|n| n.touched_ms = Some(now_ms)).is_some()
    }

    fn open(&self) -> impl Iterator<Item = &SimNotebook> {
        self.notebooks.iter().filter(|n| !n.closed)
    }

    fn find_notebook(&self, host: Option<&str>, id: &str) -> Result<&SimNotebook, Refusal> {
        let found = self.open().find(|n| n.plan.id == id && host.is_none_or(|h| n.host() == h));
        found.ok_or((404, format!("Notebook {id} not found.")))
    }

    fn notebook_json(&self, n: &SimNotebook, now_ms: i64) -> Value {
        let activity = n.last_activity(self.started_ms, now_ms);
        let url = format!("/notebooks/{}/notebooks/{}.ipynb", n.host(), n.plan.item_id);
        match self.flavor {
            Flavor::Enterprise => json!({
                "id": n.plan.id, "itemId": n.plan.item_id, "itemTitle": n.plan.title, "notebookUrl": url,
                "dateLastActivity": activity, "notebookDeploymentId": n.host(), "username": n.plan.owner,
                "revision": activity,
            }),
            Flavor::NotebookServer => json!({
                "id": n.plan.id, "itemId": n.plan.item_id, "notebookUrl": url,
                "dateLastActivity": activity.to_string(), "containerId": n.host(), "username": n.plan.owner,
            }),
        }
    }
}
