//! A job as a firing hands it to the actions: the listed job, shared with the snapshot rather
//! than copied, and beside it the names it was given (its notebook item, its task's title),
//! shared by every job given the same. In JSON it is the job with its names, as before.

use super::{Item, Job};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::HashSet;
use std::sync::Arc;

/// What a firing's job is called for people: its notebook item and its task's title.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Names {
    /// The notebook item as Portal describes it (title, owner), or why it is not known.
    pub notebook: Option<Item>,
    /// The title of the scheduled task that started it.
    pub task_title: Option<String>,
}

/// A listed job and the names a firing gave it. It reads as its job (`Deref`); its names are
/// read here, never from the job: `title`, `notebook` and `task_title`.
#[derive(Clone, Debug)]
pub struct NamedJob {
    job: Arc<Job>,
    /// `None`: not named; what the job carries of its own counts (a stored action, `nbwarden
    /// test`'s `title:`).
    names: Option<Arc<Names>>,
}

impl NamedJob {
    /// The job, not named yet.
    pub fn new(job: Arc<Job>) -> NamedJob {
        NamedJob { job, names: None }
    }

    /// The listed job, shared.
    pub fn listed(&self) -> &Arc<Job> {
        &self.job
    }

    /// The names it was given, shared; `None`: not named.
    pub fn names(&self) -> Option<&Arc<Names>> {
        self.names.as_ref()
    }

    /// The job to change (a copy, when the snapshot shares it).
    pub fn job_mut(&mut self) -> &mut Job {
        Arc::make_mut(&mut self.job)
    }

    /// Gives it `names`, in place of any it had.
    pub fn name(&mut self, names: Arc<Names>) {
        self.names = Some(names);
    }

    /// The notebook item as Portal describes it, or why it is not known.
    pub fn notebook(&self) -> Option<&Item> {
        match &self.names {
            Some(names) => names.notebook.as_ref(),
            None => self.job.own_notebook(),
        }
    }

    /// The notebook's title, when known.
    pub fn title(&self) -> Option<&str> {
        self.notebook()?.title.as_deref()
    }

    /// The title of the scheduled task that started it.
    pub fn task_title(&self) -> Option<&str> {
        match &self.names {
            Some(names) => names.task_title.as_deref(),
            None => self.job.own_task_title(),
        }
    }

    /// The job with its names in it: what is stored, and what two named jobs are compared by.
    pub fn to_job(&self) -> Job {
        let mut job = Job::clone(&self.job);
        if let Some(names) = &self.names {
            job.edit(|more| {
                more.notebook = names.notebook.clone();
                more.task_title = names.task_title.clone();
            });
        }
        job
    }
}

impl std::ops::Deref for NamedJob {
    type Target = Job;

    fn deref(&self) -> &Job {
        &self.job
    }
}

impl From<Job> for NamedJob {
    fn from(job: Job) -> NamedJob {
        NamedJob::new(Arc::new(job))
    }
}

impl PartialEq for NamedJob {
    fn eq(&self, other: &NamedJob) -> bool {
        match (&self.names, &other.names) {
            (None, None) => self.job == other.job,
            _ => self.to_job() == other.to_job(),
        }
    }
}

impl Serialize for NamedJob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.names {
            None => self.job.serialize(serializer),
            Some(_) => self.to_job().serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for NamedJob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<NamedJob, D::Error> {
        Job::deserialize(deserializer).map(NamedJob::from)
    }
}

/// Names shared by the jobs given the same ones: a first poll may name tens of thousands of
/// jobs, and most have the same few.
#[derive(Debug, Default)]
pub struct SharedNames(HashSet<Arc<Names>>);

impl SharedNames {
    /// `names`, shared with every job given the same.
    pub fn share(&mut self, names: Names) -> Arc<Names> {
        if let Some(shared) = self.0.get(&names) {
            return Arc::clone(shared);
        }
        let shared = Arc::new(names);
        self.0.insert(Arc::clone(&shared));
        shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arcgis::Status;

    fn titled(title: &str) -> Names {
        Names { notebook: Some(Item { title: Some(title.into()), ..Item::default() }), task_title: None }
    }

    #[test]
    fn a_named_job_shares_its_job_and_reads_its_names_beside_it() {
        let listed = Arc::new(Job::new("j1", Status::Executing));
        let mut named = NamedJob::new(Arc::clone(&listed));
        let mut shared = SharedNames::default();
        named.name(shared.share(titled("Parcels")));
        assert!(Arc::ptr_eq(&listed, &named.job), "the listed job is not copied");
        assert_eq!(listed.own_title(), None, "the listed job is not named");
        assert_eq!(named.title(), Some("Parcels"));
        assert!(Arc::ptr_eq(&shared.share(titled("Parcels")), named.names.as_ref().unwrap()), "same names, one copy");
    }

    #[test]
    fn in_json_a_named_job_is_the_job_with_its_names_and_reads_back_equal() {
        let mut named = NamedJob::from(Job::new("j1", Status::Executing));
        named.name(Arc::new(Names { task_title: Some("Nightly".into()), ..titled("Parcels") }));
        let json = serde_json::to_value(&named).unwrap();
        assert_eq!(json["notebook"]["title"], "Parcels");
        assert_eq!(json["task_title"], "Nightly");
        let back: NamedJob = serde_json::from_value(json).unwrap();
        assert_eq!((back.title(), back.task_title()), (Some("Parcels"), Some("Nightly")));
        assert_eq!(back, named);
        assert_ne!(back, NamedJob::from(Job::new("j1", Status::Executing)), "names count in equality");
    }
}
