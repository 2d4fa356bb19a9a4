//! The target's protection list (`protect:`, SPEC §4.15): the users, notebook items and titles
//! that no destructive action touches, whatever the rule. A protected job is still watched and
//! told about; only its cancel (or close) is left out, with the entry that protects it.

use crate::arcgis::NamedJob;
use crate::config::ProtectConfig;
use crate::rules::glob_matches;

/// The entry of `protect` that covers `job`, as people read it (`protect.users "svc_*"`); `None`
/// when the job is not protected. A job whose field is not known is not covered by that list.
pub fn protected_by(protect: &ProtectConfig, job: &NamedJob) -> Option<String> {
    let lists = [
        ("users", &protect.users, job.username.as_deref()),
        ("items", &protect.items, job.item_id.as_deref()),
        ("titles", &protect.titles, job.title()),
    ];
    lists.into_iter().find_map(|(list, globs, field)| {
        let field = field?;
        let glob = globs.iter().find(|g| glob_matches(g, field))?;
        Some(format!("protect.{list} \"{glob}\""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arcgis::{Job, Status};

    #[test]
    fn each_list_protects_by_glob_and_names_its_entry() {
        let protect = ProtectConfig {
            users: vec!["svc_*".into()],
            items: vec!["abc123".into()],
            titles: vec!["Nightly *".into()],
        };
        let job = |user: &str, item: &str, title: Option<&str>| {
            let job =
                Job { username: Some(user.into()), item_id: Some(item.into()), ..Job::new("j", Status::Executing) };
            let mut job = NamedJob::from(job);
            let notebook = title.map(|t| crate::arcgis::Item { title: Some(t.into()), ..Default::default() });
            job.name(std::sync::Arc::new(crate::arcgis::Names { notebook, task_title: None }));
            job
        };
        assert_eq!(protected_by(&protect, &job("SVC_etl", "x", None)).as_deref(), Some("protect.users \"svc_*\""));
        assert_eq!(protected_by(&protect, &job("joe", "ABC123", None)).as_deref(), Some("protect.items \"abc123\""));
        let nightly = job("joe", "x", Some("Nightly parcels"));
        assert_eq!(protected_by(&protect, &nightly).as_deref(), Some("protect.titles \"Nightly *\""));
        assert_eq!(protected_by(&protect, &job("joe", "x", Some("Parcels"))), None);
        assert_eq!(protected_by(&ProtectConfig::default(), &job("svc_etl", "abc123", None)), None, "nothing listed");
        assert_eq!(protected_by(&protect, &Job::new("j", Status::Executing).into()), None, "no field known");
    }
}
