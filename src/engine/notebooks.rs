//! The open-notebooks watcher of a target with `notebooks:`, the core's driver for notebook
//! reads: one read of the open notebooks (two or three calls, whatever their number), the titles
//! of items not seen before (read once from Portal and kept), the core's decision within the close
//! limits, and one commit of the ledger and the planned actions.

use super::{Line, Shared, Target};
use crate::arcgis::notebooks::OpenNotebook;
use crate::cycle::{CloseLimits, NotebookDecision, NotebooksRead};
use crate::dispatch::{self, Committed};
use crate::store::{NotebooksRecord, PollCommit};

/// Why a read of the open notebooks came to nothing.
#[derive(Debug, thiserror::Error)]
pub enum NotebooksError {
    /// The site did not give them.
    #[error("cannot read the open notebooks: {0}")]
    Read(#[from] crate::arcgis::Error),
    /// The read could not be committed.
    #[error("cannot record the read of the open notebooks: {0}")]
    Store(#[from] crate::store::Error),
}

impl Target {
    /// Reads the open notebooks and fires the notebook rules. A failed read keeps the last one
    /// and is returned, for the status page.
    pub async fn watch_notebooks(&mut self, shared: &Shared) -> Result<Vec<Line>, NotebooksError> {
        if self.config.notebooks.is_none() {
            return Ok(Vec::new());
        }
        let notebooks = self.read_notebooks().await?;
        let notebooks = self.titled(shared, notebooks).await;
        let read = NotebooksRead::new(self.source.server_now(), notebooks);
        Ok(self.decide_notebooks(shared, read).await?)
    }

    async fn decide_notebooks(&mut self, shared: &Shared, read: NotebooksRead) -> crate::store::Result<Vec<Line>> {
        let (dispatch, name) = (&shared.dispatch, self.config.name.clone());
        let now = dispatch.now();
        let acting = dispatch.mode == dispatch::Mode::Act;
        let recent = dispatch.store.closes_since(dispatch.scope(), &name, now.plus(-3_600_000), !acting).await?;
        let silences: Vec<_> = dispatch.store.silences(now).await?.into_iter().filter(|s| s.active(now)).collect();
        let limits =
            CloseLimits { config: &self.config.limits, recent, protect: &self.config.protect, silences: &silences };
        let NotebookDecision { firings, streaks, mut decision } =
            self.core.decide_notebooks(&dispatch.rules, &name, &read, &limits);
        let told = std::mem::take(&mut decision.silenced_keys);
        let mut commit = PollCommit::new(dispatch.scope(), &name, read.at);
        // The read is recorded (for `backtest`) when it differs from the one before; its time always.
        commit.notebooks = Some(match &self.core.notebooks {
            Some(last) if last.notebooks == read.notebooks => NotebooksRecord::Unchanged,
            _ => NotebooksRecord::Changed(read.notebooks.values().cloned().collect()),
        });
        let Committed { reports, ledger: fired } = dispatch.commit(commit, decision, &*self.source, Vec::new()).await?;
        tracing::debug!(target_name = %name, notebooks = read.notebooks.len(), firings, "read the open notebooks");
        super::count_firings(&name, &fired);
        self.core.adopt_notebooks(read, streaks, &fired);
        let active: Vec<&str> = silences.iter().map(|s| s.id.as_str()).collect();
        self.core.adopt_silenced(&told, &active);
        Ok(reports.into_iter().map(Line::Action).collect())
    }

    /// The open notebooks; the first failure in a row is a warning, the next ones are not.
    async fn read_notebooks(&mut self) -> Result<Vec<OpenNotebook>, crate::arcgis::Error> {
        let name = &self.config.name;
        match self.source.open_notebooks().await {
            Ok(notebooks) => {
                if std::mem::replace(&mut self.notebooks_failing, false) {
                    tracing::info!(target_name = %name, "the open notebooks can be read again");
                }
                Ok(notebooks)
            }
            Err(e) => {
                match std::mem::replace(&mut self.notebooks_failing, true) {
                    true => tracing::debug!(target_name = %name, error = %e, "cannot read the open notebooks"),
                    false => {
                        tracing::warn!(target_name = %name, error = %e, "cannot read the open notebooks; nothing is closed until they can be read again")
                    }
                }
                Err(e)
            }
        }
    }

    /// Gives each notebook the server did not title (Notebook Server) its item's title, as read
    /// from Portal once per item; items not seen before are read now, a few at a time.
    async fn titled(&mut self, shared: &Shared, mut notebooks: Vec<OpenNotebook>) -> Vec<OpenNotebook> {
        let untitled = notebooks.iter().filter(|n| n.title.is_none()).filter_map(|n| n.item_id.clone());
        let new: Vec<String> = untitled.filter(|id| !self.core.usual.knows_notebook(id)).collect();
        if !new.is_empty() {
            self.pending_items.extend(new);
            self.read_pending_items(shared).await;
        }
        for notebook in notebooks.iter_mut().filter(|n| n.title.is_none()) {
            let item = notebook.item_id.as_deref().and_then(|id| self.core.usual.item(id));
            notebook.title = item.and_then(|i| i.title.clone());
        }
        notebooks
    }

    /// The open notebooks as last read.
    pub fn open_notebooks(&self) -> Option<&NotebooksRead> {
        self.core.notebooks.as_ref()
    }
}
