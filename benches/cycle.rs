//! One cycle of nbwarden without the network: parse a job list of N jobs, diff it against the
//! previous poll, evaluate 50 rules, plan and commit to a SQLite file; next to parsing alone.
//! Run: `cargo bench --bench cycle` (medians of several runs; figures in README).

use nbwarden::arcgis::wire::{JobList, Payload};
use nbwarden::config::LimitsConfig;
use nbwarden::cycle::{plan, Budget};
use nbwarden::diff::{diff, snapshot, Snapshot};
use nbwarden::ledger::LedgerIndex;
use nbwarden::ledger::Streaks;
use nbwarden::rules::{evaluate::Input, RuleSet};
use nbwarden::store::{PollCommit, Scope, SqlStore, Store};
use std::time::{Duration, Instant};

const NOW: nbwarden::clock::ServerMs = nbwarden::clock::ServerMs(1_800_000_000_000);

/// The allocator of the `nbwarden` binary (see src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An Enterprise list of `n` jobs; one job in `every` (offset `flip`) has just failed.
fn body(n: usize, every: usize, flip: usize) -> Vec<u8> {
    let mut items = Vec::with_capacity(n);
    for i in 0..n {
        let running = i % 10 == 0;
        let failed_now = i % every == flip;
        let start = NOW.0 - (i as i64 % 7200) * 1000;
        let (status, end) = match (running, failed_now) {
            (_, true) => ("FAILED", NOW.0 - 1000),
            (true, false) => ("EXECUTING", 0),
            (false, false) => ("COMPLETED", start + 60_000),
        };
        items.push(format!(
            r#"{{"jobId":"j{i:07}","type":"executeNotebook","startTime":{start},"endTime":{end},"status":"{status}","username":"user{}"}}"#,
            i % 50
        ));
    }
    format!(r#"{{"asyncNotebookJobs":[{}]}}"#, items.join(",")).into_bytes()
}

fn rules_yaml() -> String {
    let mut out = String::from("rules:\n");
    for i in 0..50 {
        let rule = match i % 5 {
            0 => format!("  - {{ name: r{i}, match: {{ type: executeNotebook, status: running, runtime_over: {}m, username: {{ not: [svc_*] }} }}, actions: [{{ type: cancel }}] }}\n", 90 + i),
            1 => format!("  - {{ name: r{i}, on: status_changed, match: {{ to: failed, username: 'user{}*' }}, actions: [{{ type: log }}] }}\n", i % 10),
            2 => format!("  - {{ name: r{i}, for_polls: 2, match: {{ status: submitted, runtime_over: 10m }}, actions: [{{ type: log }}] }}\n"),
            3 => format!("  - {{ name: r{i}, on: appeared, match: {{ type: openNotebook }}, actions: [{{ type: log }}] }}\n"),
            _ => format!("  - {{ name: r{i}, on: disappeared, match: {{ status: failed }}, actions: [{{ type: log }}] }}\n"),
        };
        out.push_str(&rule);
    }
    out
}

fn parse(bytes: &[u8]) -> Vec<nbwarden::arcgis::Job> {
    let list: JobList = serde_json::from_slice(bytes).expect("valid list");
    assert!(list.is_payload());
    list.into_jobs()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[derive(Default)]
struct Figures {
    parse: Duration,
    cycle: Duration,
    unchanged: Duration,
    rows: usize,
    /// Median time of each stage: snapshot+diff, evaluate+plan, commit.
    stages: [Duration; 3],
}

async fn measure(n: usize, every: usize, rules: &RuleSet, store: &SqlStore, runs: usize) -> Figures {
    let bodies = [body(n, every, 1), body(n, every, 2)];
    let target = format!("t{n}-{every}");
    let mut previous: Snapshot = snapshot(parse(&bodies[1]));
    let baseline = diff(None, &previous);
    store.commit_poll(&commit(&target, &previous, &baseline.upserts, Vec::new())).await.unwrap();
    let (mut ledger, streaks) = (LedgerIndex::default(), Streaks::new());
    let (mut cycles, mut rows, mut stages) = (Vec::new(), 0, [Vec::new(), Vec::new(), Vec::new()]);
    let mut parse_times = Vec::new();
    // One warm-up cycle: the first evaluation fires every already-matching job once (a baseline).
    for i in 0..=runs {
        // Parsing alone, the way the daemon parses (the previous poll's jobs still held), measured
        // right before each cycle so that both see the same conditions on a shared machine.
        let started = Instant::now();
        drop(std::hint::black_box(parse(&bodies[i % 2])));
        if i > 0 {
            parse_times.push(started.elapsed());
        }
        let started = Instant::now();
        let next = snapshot(parse(&bodies[i % 2]));
        let parsed = Instant::now();
        let delta = diff(Some(&previous), &next);
        let diffed = Instant::now();
        let input = Input {
            target: &target,
            now: NOW,
            snapshot: &next,
            events: &delta.events,
            ledger: &ledger,
            streaks: &streaks,
            usual: nbwarden::usual::Usual::empty(),
        };
        let evaluation = rules.evaluate(&input);
        let mut budget = Budget::new(&LimitsConfig::default(), next.len() / 10, 0);
        let planned = plan(rules, &target, &evaluation.firings, (&mut budget, &Default::default()), NOW);
        for record in &planned.ledger {
            ledger.record(&record.rule, &record.job_id, &record.trigger, NOW);
        }
        let evaluated = Instant::now();
        let gone = delta
            .events
            .iter()
            .filter(|e| e.kind() == nbwarden::diff::EventKind::Disappeared)
            .map(|e| e.job().clone())
            .collect();
        let c = PollCommit { gone, ..commit(&target, &next, &delta.upserts, planned.ledger) };
        rows = c.upserts.len() + c.gone.len() + c.ledger.len();
        store.commit_poll(&c).await.unwrap();
        let committed = Instant::now();
        previous = next;
        if i == 0 {
            continue;
        }
        cycles.push(committed - started);
        stages[0].push(diffed - parsed);
        stages[1].push(evaluated - diffed);
        stages[2].push(committed - evaluated);
    }
    let mut quiet = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        store.commit_poll(&commit(&target, &previous, &[], Vec::new())).await.unwrap();
        quiet.push(started.elapsed());
    }
    let stages = stages.map(median);
    Figures { parse: median(parse_times), cycle: median(cycles), unchanged: median(quiet), rows, stages }
}

/// A poll's commit as the engine makes it: the whole snapshot, and the rows that changed.
fn commit<'a>(
    target: &'a str,
    snapshot: &'a Snapshot,
    upserts: &[usize],
    ledger: Vec<nbwarden::plan::LedgerRecord>,
) -> PollCommit<'a> {
    let upserts = upserts.iter().map(|&index| &*snapshot.jobs()[index]).collect();
    PollCommit { snapshot: Some(snapshot), upserts, ledger, ..PollCommit::new(Scope::Real, target, NOW) }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), rules_yaml()).unwrap();
    let rules = RuleSet::load(&[dir.path().join("rules.yaml")], &["t1000", "t10000", "t100000"]).unwrap();
    assert_eq!(rules.rules.len(), 50);
    let store = SqlStore::open_sqlite(&dir.path().join("bench.db")).await.unwrap();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("changed  jobs     parse alone  full cycle  cycle/parse  rows written  diff      evaluate  commit    unchanged poll commit");
    for (every, label) in [(1000, "0.2%"), (100, "2%")] {
        for (n, runs) in [(1_000, 31), (10_000, 15), (100_000, 11)] {
            let f = measure(n, every, &rules, &store, runs).await;
            println!(
                "{label:<7} {n:>7}  {:>8.2} ms  {:>7.2} ms  {:>9.2}x  {:>12}  {:>6.2} ms {:>6.2} ms {:>6.2} ms {:>6.2} ms (1 row)",
                ms(f.parse),
                ms(f.cycle),
                f.cycle.as_secs_f64() / f.parse.as_secs_f64(),
                f.rows,
                ms(f.stages[0]),
                ms(f.stages[1]),
                ms(f.stages[2]),
                ms(f.unchanged)
            );
        }
    }
}
