//! Every match key, with and without `not`, including jobs that cannot answer.

use super::*;
use crate::arcgis::Status;
use crate::clock::ServerMs;
use crate::usual::Usual;

const MIN: i64 = 60_000;

fn job() -> Job {
    let mut job = Job::new("j1", Status::Executing);
    job.job_type = Some("executeNotebook".into());
    job.username = Some("svc_etl".into());
    job.started_at = Some(ServerMs(0));
    job.item_id = Some("abc".into());
    job.runtime_name = Some("ArcGIS Notebook Python 3 Advanced".into());
    job.task_id = Some("t1".into());
    job.timeout_minutes = Some(60);
    job
}

fn bare() -> Job {
    Job::new("j2", Status::Executing)
}

fn cond(key: &'static str, test: Test) -> Condition {
    Condition { key, negated: false, test }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

#[test]
fn each_key_against_a_full_and_a_bare_job() {
    use Verdict::*;
    let s = |v: &[&str]| v.iter().map(|x| StatusValue::parse(x)).collect::<Vec<_>>();
    let table: Vec<(Condition, Verdict, Verdict)> = vec![
        (cond("type", Test::Type(strings(&["EXECUTENOTEBOOK"]))), Holds, Unanswerable),
        (cond("type", Test::Type(strings(&["openNotebook"]))), Fails, Unanswerable),
        (cond("status", Test::Status(s(&["running"]))), Holds, Holds),
        (cond("status", Test::Status(s(&["executing"]))), Holds, Holds),
        (cond("status", Test::Status(s(&["PROCESSING", "failed"]))), Fails, Fails),
        (cond("username", Test::Username(strings(&["svc_*"]))), Holds, Unanswerable),
        (cond("username", Test::Username(strings(&["admin*", "joe"]))), Fails, Unanswerable),
        (cond("runtime_over", Test::RuntimeOver(Duration::from_secs(89 * 60))), Holds, Unanswerable),
        (cond("runtime_over", Test::RuntimeOver(Duration::from_secs(90 * 60))), Fails, Unanswerable),
        (cond("runtime_under", Test::RuntimeUnder(Duration::from_secs(91 * 60))), Holds, Unanswerable),
        (cond("item_id", Test::ItemId(strings(&["ABC"]))), Holds, Unanswerable),
        (cond("runtime_name", Test::RuntimeName(strings(&["ArcGIS Notebook Python 3 Advanced"]))), Holds, Unanswerable),
        (cond("scheduled", Test::Scheduled(true)), Holds, Unanswerable),
        (cond("scheduled", Test::Scheduled(false)), Fails, Unanswerable),
        (cond("exceeds_own_timeout", Test::ExceedsOwnTimeout(true)), Holds, Unanswerable),
        (cond("to", Test::To(s(&["running"]))), Holds, Holds),
        // Without a status before, the job was first seen: only `from: none` holds.
        (cond("from", Test::From(s(&["submitted"]))), Holds, Fails),
        (cond("from", Test::From(s(&["none"]))), Fails, Holds),
    ];
    let full = job();
    let mut before = job();
    before.status = Status::Submitted;
    let bare = bare();
    for (condition, on_full, on_bare) in table {
        let with_before = Subject { job: &full, before: Some(&before), now: ServerMs(90 * MIN), usual: Usual::empty() };
        assert_eq!(condition.check(&with_before), on_full, "{condition} on a full job");
        let subject = Subject { job: &bare, before: None, now: ServerMs(90 * MIN), usual: Usual::empty() };
        assert_eq!(condition.check(&subject), on_bare, "{condition} on a bare job");
    }
}

#[test]
fn not_inverts_but_cannot_invent_an_answer() {
    let full = job();
    let bare = bare();
    let negated = Condition { key: "username", negated: true, test: Test::Username(strings(&["svc_etl", "admin*"])) };
    assert_eq!(
        negated.check(&Subject { job: &full, before: None, now: ServerMs(0), usual: Usual::empty() }),
        Verdict::Fails
    );
    let mut joe = job();
    joe.username = Some("joe".into());
    assert_eq!(
        negated.check(&Subject { job: &joe, before: None, now: ServerMs(0), usual: Usual::empty() }),
        Verdict::Holds
    );
    assert_eq!(
        negated.check(&Subject { job: &bare, before: None, now: ServerMs(0), usual: Usual::empty() }),
        Verdict::Unanswerable
    );
}

#[test]
fn phase_names_follow_is_cancelled_and_raw_values_do_not() {
    let mut cancelled = job();
    cancelled.status = Status::Failed;
    cancelled.cancelled_flag = true;
    let subject = Subject { job: &cancelled, before: None, now: ServerMs(0), usual: Usual::empty() };
    assert_eq!(cond("to", Test::To(vec![StatusValue::parse("failed")])).check(&subject), Verdict::Fails);
    assert_eq!(cond("to", Test::To(vec![StatusValue::parse("FAILED")])).check(&subject), Verdict::Holds);
}

#[test]
fn globs() {
    for (pattern, text, expected) in [
        ("admin*", "Admin_Jane", true),
        ("*", "", true),
        ("svc_?tl", "svc_etl", true),
        ("*etl", "svc_etl", true),
        ("a*b*c", "aXbYc", true),
        ("a*b*c", "aXbY", false),
        ("joe", "joe2", false),
    ] {
        assert_eq!(glob_matches(pattern, text), expected, "{pattern} vs {text}");
    }
}

#[test]
fn explanations_name_the_key_and_the_actual_value() {
    let full = job();
    let subject = Subject { job: &full, before: None, now: ServerMs(45 * MIN), usual: Usual::empty() };
    let over = cond("runtime_over", Test::RuntimeOver(Duration::from_secs(90 * 60)));
    assert_eq!(over.explain(&subject), "runtime_over: 1h30m: runtime is 45m");
}

/// `title` matches the notebook item's title by glob once Portal gave it; before that, or when
/// Portal gave none, it cannot tell, and `explain` says why.
#[test]
fn a_title_matches_by_glob_once_portal_gave_it() {
    let title = cond("title", Test::Title(strings(&["parcels*"])));
    let mut usual = Usual::default();
    let subject = |usual: &Usual, job: &Job| title.check(&Subject::at(job, ServerMs(0), usual));
    assert_eq!(subject(&usual, &job()), Verdict::Unanswerable, "not read yet");
    assert!(title.explain(&Subject::at(&job(), ServerMs(0), &usual)).contains("not been read from Portal"));
    assert!(title.explain(&Subject::at(&bare(), ServerMs(0), &usual)).contains("turn on `poll.details`"));
    let notebook = |title: Option<&str>| crate::arcgis::Item {
        title: title.map(Into::into),
        owner: Some("joe".into()),
        why: title.is_none().then(|| "Portal: item not found".into()),
    };
    usual.learn_notebook("abc", notebook(Some("Parcels import")));
    assert_eq!(subject(&usual, &job()), Verdict::Holds);
    usual.learn_notebook("abc", notebook(Some("Roads")));
    assert_eq!(subject(&usual, &job()), Verdict::Fails);
    usual.learn_notebook("abc", notebook(None));
    assert_eq!(subject(&usual, &job()), Verdict::Unanswerable);
    assert!(title.explain(&Subject::at(&job(), ServerMs(0), &usual)).contains("item not found"));
}
