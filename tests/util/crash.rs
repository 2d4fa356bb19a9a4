//! What the kill loops count. A message may reach its recipient twice only when a kill landed
//! after the SMTP server accepted it and before its sender journaled it: a send in flight. At each
//! kill the test notes the time, what the journal held and how many messages had arrived; the
//! repeated deliveries (same Message-ID) may then be at most the sends those kills hit in flight.
//! A journal that records late (at the end of an action) or never lets messages accepted well
//! before a kill be sent again, and fails the bound.

use super::smtp::{jobs_listed, Delivery};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

/// The longest a sender may take between the server's "250" and its journal line, on a loaded
/// 2-core machine: a message accepted this long before a kill, or later, counts as in flight.
pub const GRACE: Duration = Duration::from_millis(500);

/// One part of an action: (queued action id, recipient); `FINISHED` stands for every part.
pub type Part = (i64, String);

/// What the test saw at one kill.
pub struct Kill {
    /// Just before the signal.
    pub at: SystemTime,
    /// The parts journaled by then: the journal file and the store's records.
    pub journaled: BTreeSet<Part>,
    /// The messages the server had accepted once the kill had settled.
    pub delivered: usize,
}

/// The queued e-mail actions by (rule, job) of a state store (`sqlite://…` or `postgres://…`).
pub async fn email_actions(url: &str) -> BTreeMap<(String, String), i64> {
    let rows: Vec<(i64, String, String)> =
        query(url, "SELECT id, rule, job_ids FROM actions WHERE kind = 'email'").await;
    let mut out = BTreeMap::new();
    for (id, rule, jobs) in rows {
        for job in serde_json::from_str::<Vec<String>>(&jobs).unwrap_or_default() {
            out.insert((rule.clone(), job), id);
        }
    }
    out
}

/// The parts the store has recorded: each action's settled recipients, and every finished
/// action as a whole.
pub async fn recorded(url: &str) -> BTreeSet<Part> {
    let rows: Vec<(i64, String, String)> = query(url, "SELECT id, status, payload FROM actions").await;
    let mut parts = BTreeSet::new();
    for (id, status, payload) in rows {
        let payload: Value = serde_json::from_str(&payload).unwrap_or_default();
        let settled = payload["settled"].as_array().into_iter().flatten().filter_map(Value::as_str);
        parts.extend(settled.map(|key| (id, key.to_string())));
        if !matches!(status.as_str(), "pending" | "running") {
            parts.insert((id, nbwarden::journal::FINISHED.to_string()));
        }
    }
    parts
}

async fn query(url: &str, sql: &str) -> Vec<(i64, String, String)> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("the state store opens");
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string())).fetch_all(&pool).await.unwrap();
    pool.close().await;
    rows
}

/// The part a message is: its action (by its subject's rule and its first job) and recipient.
/// A message that matches no queued action fails the test: it cannot be accounted for.
pub fn part_of(message: &Value, rules: &[(&str, &str)], actions: &BTreeMap<(String, String), i64>) -> Part {
    let subject = message["subject"].as_str().unwrap_or_default();
    let rule = rules.iter().find(|(s, _)| *s == subject).map(|(_, r)| *r);
    let job = jobs_listed(message["text"].as_str().unwrap_or_default()).first().map(|j| j.to_string());
    let action = rule.zip(job).and_then(|(r, j)| actions.get(&(r.to_string(), j)));
    let recipient = message["envelope_to"][0].as_str().unwrap_or_default().to_string();
    let Some(&action) = action else { panic!("a message that matches no queued action: {message}") };
    (action, recipient)
}

/// Whether `journaled` holds `part`.
fn holds(journaled: &BTreeSet<Part>, (action, recipient): &Part) -> bool {
    journaled.contains(&(*action, recipient.clone()))
        || journaled.contains(&(*action, nbwarden::journal::FINISHED.to_string()))
}

/// The sends the kills hit in flight: for each kill, the messages accepted since the previous
/// kill's count, from `GRACE` before it on, whose part its journal did not hold.
pub fn in_flight(kills: &[Kill], deliveries: &[Delivery], part: &dyn Fn(&Value) -> Part) -> usize {
    let mut from = 0;
    let mut hit = 0;
    for kill in kills {
        let window = deliveries.get(from..kill.delivered.min(deliveries.len())).unwrap_or_default();
        let since = kill.at - GRACE;
        hit += window.iter().filter(|d| d.at >= since && !holds(&kill.journaled, &part(&d.message))).count();
        from = kill.delivered.max(from);
    }
    hit
}

/// The deliveries that repeated a Message-ID, as parts (each must match an action).
pub fn repeats(deliveries: &[Delivery], part: &dyn Fn(&Value) -> Part) -> Vec<Part> {
    let mut seen = BTreeSet::new();
    deliveries
        .iter()
        .filter(|d| !seen.insert(d.message["message_id"].as_str().unwrap_or_default().to_string()))
        .map(|d| part(&d.message))
        .collect()
}

/// The repeats whose part some kill's journal held before the repeat arrived: journaled progress
/// that was lost.
pub fn lost(kills: &[Kill], deliveries: &[Delivery], part: &dyn Fn(&Value) -> Part) -> Vec<Part> {
    let mut seen = BTreeSet::new();
    let mut lost = Vec::new();
    for (index, delivery) in deliveries.iter().enumerate() {
        if seen.insert(delivery.message["message_id"].as_str().unwrap_or_default().to_string()) {
            continue;
        }
        let part = part(&delivery.message);
        if kills.iter().any(|k| k.delivered <= index && holds(&k.journaled, &part)) {
            lost.push(part);
        }
    }
    lost
}

/// The slow mailbox of both kill loops: the SMTP server takes 3 s to accept a message to it (the
/// second part of each failure notice).
pub const SLOW: &str = "slowbox@example.com";

/// The rules of both kill loops: a cancel with its notice to the owner, and each failure told to
/// the owner and the slow mailbox.
pub const RULES: &str = "rules:
  - name: runaway
    match: { status: running, runtime_over: 90m }
    actions:
      - { type: cancel }
      - { type: email, to: [owner], subject: cancelled, body: '{% for j in jobs %}[{{ j.id }}]{% endfor %}' }
  - name: failures
    on: status_changed
    match: { to: failed }
    actions:
      - { type: email, to: [owner, slowbox@example.com], subject: failed, body: '{% for j in jobs %}[{{ j.id }}]{% endfor %}' }
";
