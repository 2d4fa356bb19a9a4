//! The cadence of a target's open-notebook reads (`notebooks: { every }`): the first with the
//! first poll, then every `every`, whatever the outcome; each read shown on the board and in the
//! metrics (open notebooks by runtime).

use super::Context;
use crate::clock::LocalMs;
use crate::engine::Target;

/// When the next read of a target's open notebooks is due.
pub(super) struct NotebookReads {
    every_ms: i64,
    next: Option<LocalMs>,
}

impl NotebookReads {
    /// The first read comes with the first poll; none without `notebooks:`.
    pub(super) fn of(target: &Target, first: LocalMs) -> NotebookReads {
        let every_ms = target.config.notebooks.as_ref().map_or(0, |n| n.every.0.as_millis() as i64);
        NotebookReads { every_ms, next: target.config.notebooks.as_ref().map(|_| first) }
    }

    /// When the next read is due.
    pub(super) fn due(&self) -> Option<LocalMs> {
        self.next
    }

    /// Reads the open notebooks when a read is due.
    pub(super) async fn read_if_due(&mut self, target: &mut Target, cx: &Context, now: LocalMs) {
        if self.next.is_none_or(|due| now < due) {
            return;
        }
        self.next = Some(now.plus(self.every_ms.max(1_000)));
        let name = target.config.name.clone();
        match target.watch_notebooks(&cx.shared).await {
            Ok(lines) => lines.iter().for_each(|l| cx.report(l)),
            Err(e) => cx.board.notebooks_failed(&name, &e.to_string()),
        }
        if let Some(read) = target.open_notebooks() {
            cx.board.notebooks(&name, read);
            metrics(&name, read);
        }
        cx.wake.notify_one();
    }
}

/// `nbwarden_open_notebooks{target,runtime}`.
fn metrics(target: &str, read: &crate::cycle::NotebooksRead) {
    let mut by_runtime: std::collections::BTreeMap<String, usize> = Default::default();
    for notebook in read.notebooks.values() {
        *by_runtime.entry(notebook.runtime.clone().unwrap_or_else(|| "unknown".into())).or_default() += 1;
    }
    for (runtime, count) in by_runtime {
        let labels = [("target", target.to_string()), ("runtime", runtime)];
        metrics::gauge!(crate::telemetry::OPEN_NOTEBOOKS, &labels).set(count as f64);
    }
}
