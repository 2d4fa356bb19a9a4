//! What few jobs carry, boxed out of `Job`: a failed job's messages, the names a stored action's
//! job was given, an open notebook's record. And `Job` as its JSON reads, every field flat.

use super::{Item, Job, ServerMs, Status};
use crate::arcgis::notebooks::OpenNotebook;
use serde::{Deserialize, Serialize};

/// A job's rarely set fields; never all empty when boxed in a `Job` (`Job::edit`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct JobMore {
    /// The job resource's `messages` (read once when a job fails), each cut to 2 kB.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    /// The title of the scheduled task that started it, as the tasks watcher knows it: read back
    /// with a stored action's job (a firing's are beside its job, `NamedJob`), and on a run of the
    /// report; never in snapshots or history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_title: Option<String>,
    /// The notebook item as Portal describes it (title, owner), or why it is not known: read back
    /// with a stored action's job (a firing's are beside its job, `NamedJob`), and given by
    /// `nbwarden test`'s `title:`; never in snapshots or history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notebook: Option<Item>,
    /// The open notebook this record stands for (`on: notebook` rules): set only on the records
    /// a notebook read makes (`OpenNotebook::as_job`), never on a job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<Box<OpenNotebook>>,
}

impl JobMore {
    fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.task_title.is_none() && self.notebook.is_none() && self.session.is_none()
    }
}

impl Job {
    /// The job resource's messages (none unless read).
    pub fn messages(&self) -> &[String] {
        self.more.as_ref().map_or(&[], |more| &more.messages)
    }

    /// The title of the scheduled task that started it, as the job carries it (a run of the
    /// report, a stored action's job).
    pub fn own_task_title(&self) -> Option<&str> {
        self.more.as_ref()?.task_title.as_deref()
    }

    /// The notebook item as the job carries it (`nbwarden test`'s `title:`, a stored action's job).
    pub fn own_notebook(&self) -> Option<&Item> {
        self.more.as_ref()?.notebook.as_ref()
    }

    /// The open notebook this record stands for.
    pub fn session(&self) -> Option<&OpenNotebook> {
        self.more.as_deref()?.session.as_deref()
    }

    /// Changes the rarely set fields; the box goes when they are all empty again, so that equal
    /// jobs stay equal.
    pub fn edit(&mut self, change: impl FnOnce(&mut JobMore)) {
        match &mut self.more {
            Some(more) => {
                change(more);
                if more.is_empty() {
                    self.more = None;
                }
            }
            None => {
                let mut more = JobMore::default();
                change(&mut more);
                if !more.is_empty() {
                    self.more = Some(Box::new(more));
                }
            }
        }
    }
}

/// `Job` as its JSON reads: every field of it flat, the rare ones optional (listed, not
/// flattened: serde reads a flattened struct through a buffer of every field).
#[derive(Deserialize)]
pub(super) struct JobForm {
    status: Status,
    cancelled_flag: bool,
    started_at: Option<ServerMs>,
    ended_at: Option<ServerMs>,
    id: String,
    job_type: Option<String>,
    username: Option<String>,
    item_id: Option<String>,
    runtime_name: Option<String>,
    task_id: Option<String>,
    timeout_minutes: Option<u64>,
    #[serde(default)]
    messages: Vec<String>,
    #[serde(default)]
    task_title: Option<String>,
    #[serde(default)]
    notebook: Option<Item>,
    #[serde(default)]
    session: Option<Box<OpenNotebook>>,
}

impl From<JobForm> for Job {
    fn from(form: JobForm) -> Job {
        let mut job = Job {
            status: form.status,
            cancelled_flag: form.cancelled_flag,
            started_at: form.started_at,
            ended_at: form.ended_at,
            id: form.id,
            job_type: form.job_type,
            username: form.username,
            item_id: form.item_id,
            runtime_name: form.runtime_name,
            task_id: form.task_id,
            timeout_minutes: form.timeout_minutes,
            more: None,
        };
        let (messages, task_title, notebook, session) = (form.messages, form.task_title, form.notebook, form.session);
        job.edit(|more| *more = JobMore { messages, task_title, notebook, session });
        job
    }
}
