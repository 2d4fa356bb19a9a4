//! The open interactive notebooks: on Notebook Server `<admin>/notebooks` a page of 100 at a time
//! until every page is read, and `system/containers` for their runtimes; on Kubernetes
//! `<admin>/notebooks` (every notebook, with its deployment) and `notebooks/deployments` for the
//! runtimes. Two or three calls a read, whatever the number of notebooks. One notebook is read
//! again before it is closed.

use super::{Call, Client};
use crate::arcgis::notebooks::{with_hosts, HostList, NotebookPage, OpenNotebook, WireNotebook};
use crate::arcgis::wire::OperationResponse;
use crate::arcgis::Result;
use crate::config::Flavor;

/// Notebooks asked for per page (Notebook Server's most).
const PAGE: i64 = 100;
/// Pages read at most (100,000 notebooks): a server whose pages never end cannot loop us.
const MAX_PAGES: usize = 1_000;

impl Client {
    /// Every open notebook, with its runtime and when its container or deployment started.
    pub async fn open_notebooks(&self) -> Result<Vec<OpenNotebook>> {
        let mut notebooks = match self.endpoints.flavor() {
            Flavor::NotebookServer => self.notebook_pages().await?,
            Flavor::Enterprise => self.notebook_page(None).await?.0,
        };
        let hosts: HostList =
            self.authed(Call::get(self.endpoints.notebook_hosts(), vec![("f", "json".into())])).await?;
        with_hosts(&mut notebooks, &hosts.by_id());
        Ok(notebooks)
    }

    /// Notebook Server's pages, `start` 1-based, until `nextStart` is -1 or `total` is reached.
    async fn notebook_pages(&self) -> Result<Vec<OpenNotebook>> {
        let mut notebooks = Vec::new();
        let mut start = 1;
        for _ in 0..MAX_PAGES {
            let (page, total, next) = self.notebook_page(Some(start)).await?;
            let read = page.len() as i64;
            notebooks.extend(page);
            start = match next {
                Some(next) if next > start => next,
                Some(_) => return Ok(notebooks),
                None if read > 0 && total.is_some_and(|t| start + read <= t) => start + read,
                None => return Ok(notebooks),
            };
        }
        Ok(notebooks)
    }

    /// One page (`start` on Notebook Server), with `total` and `nextStart`.
    async fn notebook_page(&self, start: Option<i64>) -> Result<(Vec<OpenNotebook>, Option<i64>, Option<i64>)> {
        let mut params = vec![("f", "json".to_string())];
        if let Some(start) = start {
            params.extend([("start", start.to_string()), ("num", PAGE.to_string())]);
        }
        let page: NotebookPage = self.authed(Call::get(self.endpoints.notebooks(), params)).await?;
        let notebooks = page.notebooks.unwrap_or_default().into_iter().filter_map(|n| n.notebook()).collect();
        Ok((notebooks, page.total, page.next_start))
    }

    /// `notebook` read again: `None` when it is no longer open.
    pub async fn reread_notebook(&self, notebook: &OpenNotebook) -> Result<Option<OpenNotebook>> {
        let call = Call::get(self.notebook_url(notebook)?, vec![("f", "json".into())]);
        match self.authed::<WireNotebook>(call).await {
            Ok(wire) => Ok(wire.notebook().map(|fresh| OpenNotebook {
                host: fresh.host.or(notebook.host.clone()),
                opened: notebook.opened,
                runtime: notebook.runtime.clone(),
                ..fresh
            })),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The notebook's resource, unless an id could address another one (nothing is sent then).
    fn notebook_url(&self, notebook: &OpenNotebook) -> Result<String> {
        let url = super::addressable(&notebook.id, self.endpoints.notebook(notebook))?;
        match &notebook.host {
            Some(host) => super::addressable(host.id(), url),
            None => Ok(url),
        }
    }

    /// Asks the server to close `notebook`; anything but `{"status":"success"}` is an error with
    /// the server's message.
    pub async fn close_notebook(&self, notebook: &OpenNotebook) -> Result<()> {
        let url = format!("{}/closeNotebook", self.notebook_url(notebook)?);
        let call = Call::post(url, vec![("f", "json".into())]);
        self.authed::<OperationResponse>(call).await.map(drop)
    }
}
