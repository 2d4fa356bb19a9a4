//! Open interactive notebooks (arcgis-api.md §1.1–§1.2, and `docs/notebooks-api.md`): what
//! Notebook Server's `notebooks` pages and Enterprise on Kubernetes's `notebooks` list say of each,
//! with the runtime from its container or deployment record.

use crate::arcgis::wire::lenient_i64;
use crate::clock::ServerMs;
use serde::{Deserialize, Serialize};

/// Where an open notebook runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Host {
    /// A Notebook Server container (`containerId`).
    Container(String),
    /// A Kubernetes notebook deployment (`notebookDeploymentId`).
    Deployment(String),
}

impl Host {
    /// The container's or deployment's id.
    pub fn id(&self) -> &str {
        match self {
            Host::Container(id) | Host::Deployment(id) => id,
        }
    }
}

/// One open notebook.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OpenNotebook {
    /// Its id in its container or deployment (not the item id).
    pub id: String,
    /// The notebook's Portal item.
    pub item_id: Option<String>,
    /// The item's title, when the server gives it (Kubernetes' `itemTitle`).
    pub title: Option<String>,
    /// Its owner.
    pub username: String,
    /// Where it runs.
    pub host: Option<Host>,
    /// `dateLastActivity`: "the last time the notebook was modified or run".
    pub last_activity: Option<ServerMs>,
    /// When its container or deployment was created: it has been open at least since then.
    pub opened: Option<ServerMs>,
    /// The runtime of its container or deployment (`notebookRuntimeName`).
    pub runtime: Option<String>,
}

impl OpenNotebook {
    /// How long it has been idle at `now`.
    pub fn idle(&self, now: ServerMs) -> Option<std::time::Duration> {
        self.last_activity.map(|at| std::time::Duration::from_millis(now.since(at).max(0) as u64))
    }

    /// The notebook as a job-shaped record, for what actions share with job rules: the owner as
    /// recipient, batching, the Message-ID, the protection list and silences (its id, owner, item
    /// and title). Its type is `notebook`; it "started" at its last activity, so that the time
    /// since — what a limit orders destructive firings by, most first — is how long it has been
    /// idle. The notebook itself rides along (`session`).
    pub fn as_job(&self) -> crate::arcgis::Job {
        let mut job = crate::arcgis::Job::new(self.id.clone(), crate::arcgis::Status::Executing);
        job.job_type = Some("notebook".into());
        job.username = Some(self.username.clone()).filter(|u| !u.is_empty());
        job.item_id = self.item_id.clone();
        job.started_at = self.last_activity;
        job.runtime_name = self.runtime.clone();
        job.edit(|more| {
            more.notebook =
                self.title.clone().map(|title| crate::arcgis::Item { title: Some(title), owner: None, why: None });
            more.session = Some(Box::new(self.clone()));
        });
        job
    }

    /// How long it has been open at `now`.
    pub fn open_for(&self, now: ServerMs) -> Option<std::time::Duration> {
        self.opened.map(|at| std::time::Duration::from_millis(now.since(at).max(0) as u64))
    }
}

/// A page of `<admin>/notebooks` (Notebook Server pages it with `start` and `num`; Kubernetes
/// answers every notebook at once).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct NotebookPage {
    pub notebooks: Option<Vec<WireNotebook>>,
    #[serde(deserialize_with = "lenient_i64")]
    pub total: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub next_start: Option<i64>,
}

impl crate::arcgis::wire::Payload for NotebookPage {
    const EXPECTED: &'static str = "\"notebooks\"";
    fn is_payload(&self) -> bool {
        self.notebooks.is_some()
    }
}

/// One notebook as either flavor writes it; `dateLastActivity` is a number or a numeric string.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireNotebook {
    id: Option<String>,
    item_id: Option<String>,
    item_title: Option<String>,
    username: Option<String>,
    container_id: Option<String>,
    notebook_deployment_id: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    date_last_activity: Option<i64>,
}

impl crate::arcgis::wire::Payload for WireNotebook {
    const EXPECTED: &'static str = "a notebook id";
    fn is_payload(&self) -> bool {
        self.id.as_ref().is_some_and(|i| !i.is_empty())
    }
}

impl WireNotebook {
    /// The notebook, when it has an id; its runtime and opening come from its host's record.
    pub fn notebook(self) -> Option<OpenNotebook> {
        let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
        let host = match (nonempty(self.container_id), nonempty(self.notebook_deployment_id)) {
            (_, Some(deployment)) => Some(Host::Deployment(deployment)),
            (Some(container), None) => Some(Host::Container(container)),
            (None, None) => None,
        };
        Some(OpenNotebook {
            id: nonempty(self.id)?,
            item_id: nonempty(self.item_id),
            title: nonempty(self.item_title),
            username: self.username.unwrap_or_default(),
            host,
            last_activity: self.date_last_activity.filter(|t| *t > 0).map(ServerMs),
            opened: None,
            runtime: None,
        })
    }
}

/// A container (`system/containers`) or a deployment (`notebooks/deployments`): who it is for,
/// since when, and its runtime.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct WireHost {
    id: Option<String>,
    container_id: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    date_created: Option<i64>,
    notebook_runtime_name: Option<String>,
    notebook_runtime_id: Option<String>,
}

/// `system/containers` or `notebooks/deployments`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct HostList {
    pub containers: Option<Vec<WireHost>>,
    pub nb_deployments: Option<Vec<WireHost>>,
}

impl crate::arcgis::wire::Payload for HostList {
    const EXPECTED: &'static str = "\"containers\" or \"nbDeployments\"";
    fn is_payload(&self) -> bool {
        self.containers.is_some() || self.nb_deployments.is_some()
    }
}

/// What a notebook takes from its host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HostFacts {
    pub created: Option<ServerMs>,
    pub runtime: Option<String>,
}

impl HostList {
    /// Each host by its id: a container by its Docker id (`containerId`, which notebooks name), a
    /// deployment by `id`.
    pub fn by_id(self) -> std::collections::HashMap<String, HostFacts> {
        let hosts = self.containers.into_iter().flatten().chain(self.nb_deployments.into_iter().flatten());
        hosts
            .filter_map(|h| {
                let id = h.container_id.filter(|c| !c.is_empty()).or(h.id).filter(|i| !i.is_empty())?;
                let runtime = h.notebook_runtime_name.or(h.notebook_runtime_id).filter(|r| !r.is_empty());
                Some((id, HostFacts { created: h.date_created.filter(|t| *t > 0).map(ServerMs), runtime }))
            })
            .collect()
    }
}

/// Gives each notebook its host's opening time and runtime.
pub(crate) fn with_hosts(notebooks: &mut [OpenNotebook], hosts: &std::collections::HashMap<String, HostFacts>) {
    for notebook in notebooks {
        if let Some(facts) = notebook.host.as_ref().and_then(|h| hosts.get(h.id())) {
            notebook.opened = facts.created;
            notebook.runtime = facts.runtime.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/notebooks").join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn notebook_server_pages_give_string_activity_times_and_containers_the_runtime() {
        let page: NotebookPage = serde_json::from_slice(&fixture("classic_notebooks.json")).unwrap();
        assert_eq!((page.total, page.next_start), (Some(2), Some(-1)));
        let mut notebooks: Vec<OpenNotebook> =
            page.notebooks.unwrap().into_iter().filter_map(|n| n.notebook()).collect();
        let hosts: HostList = serde_json::from_slice(&fixture("classic_containers.json")).unwrap();
        with_hosts(&mut notebooks, &hosts.by_id());
        let first = &notebooks[0];
        assert_eq!(first.id, "4daa2b043b964bcbb6b3fb9703838c6a");
        assert_eq!(first.last_activity, Some(ServerMs(1_608_017_998_830)), "a string, read as epoch ms");
        assert_eq!(first.host, Some(Host::Container("029c67320ce44ef3b6c8a978c51fd90c".into())));
        assert_eq!(first.runtime.as_deref(), Some("ArcGIS Notebook Python 3 Advanced"));
        assert_eq!(first.opened, Some(ServerMs(1_608_010_000_000)));
        assert_eq!(first.title, None, "Notebook Server gives no title: Portal does");
    }

    #[test]
    fn kubernetes_lists_every_notebook_with_its_deployment_and_title() {
        let page: NotebookPage = serde_json::from_slice(&fixture("k8s_notebooks.json")).unwrap();
        let mut notebooks: Vec<OpenNotebook> =
            page.notebooks.unwrap().into_iter().filter_map(|n| n.notebook()).collect();
        let hosts: HostList = serde_json::from_slice(&fixture("k8s_deployments.json")).unwrap();
        with_hosts(&mut notebooks, &hosts.by_id());
        let nb = &notebooks[0];
        assert_eq!(nb.host, Some(Host::Deployment("fa80941bbca9404ab837c5967c80c07a".into())));
        assert_eq!((nb.title.as_deref(), nb.username.as_str()), (Some("NBA-2"), "portaladmin"));
        assert_eq!(nb.last_activity, Some(ServerMs(1_713_927_612_251)), "a number");
        assert_eq!(nb.runtime.as_deref(), Some("ArcGIS Notebook Python 3 Standard"));
        assert_eq!(nb.opened, Some(ServerMs(1_713_915_970_000)));
        let one: WireNotebook = serde_json::from_slice(&fixture("k8s_deployment_notebook.json")).unwrap();
        assert_eq!(one.notebook().map(|n| n.id), Some("3c9b5f774a2f418dadf48c7f24a9ef1a".into()));
    }

    #[test]
    fn odd_values_read_as_unknown_never_as_errors() {
        let odd = r#"{"notebooks":[{"id":"n1","dateLastActivity":"soon","containerId":"","username":null},{"id":""}]}"#;
        let page: NotebookPage = serde_json::from_str(odd).unwrap();
        let notebooks: Vec<OpenNotebook> = page.notebooks.unwrap().into_iter().filter_map(|n| n.notebook()).collect();
        assert_eq!(notebooks.len(), 1, "no id, no notebook");
        assert_eq!((notebooks[0].last_activity, notebooks[0].host.clone()), (None, None));
        let now = ServerMs(10_000);
        let at =
            |ms| OpenNotebook { last_activity: Some(ServerMs(ms)), opened: Some(ServerMs(ms)), ..notebooks[0].clone() };
        assert_eq!(at(4_000).idle(now), Some(std::time::Duration::from_secs(6)));
        assert_eq!(at(20_000).idle(now), Some(std::time::Duration::ZERO), "a clock ahead is not negative");
    }
}
