//! One cycle of nbwarden without the network: read a job list of N jobs (only the jobs listed in
//! other bytes than at the previous poll parsed), diff it against the previous poll, evaluate 50
//! rules, plan and commit to a SQLite file; next to parsing the whole list, and to the floor: the
//! body copied from memory and scanned for its structure, nothing parsed.
//! Run: `cargo bench --bench cycle` (medians of several runs; figures in BENCHMARKS.md).

mod common;

use common::{body, commit, floor, median, parse, read, rules_yaml, NOW};
use nbwarden::arcgis::wire::Scratch;
use nbwarden::config::LimitsConfig;
use nbwarden::cycle::{plan, Budget};
use nbwarden::diff::{diff, snapshot, Snapshot};
use nbwarden::ledger::LedgerIndex;
use nbwarden::ledger::Streaks;
use nbwarden::rules::{evaluate::Input, RuleSet};
use nbwarden::store::{PollCommit, SqlStore, Store};
use std::time::{Duration, Instant};

/// The allocator of the `nbwarden` binary (see src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Default)]
struct Figures {
    body: usize,
    floor: Duration,
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
    let (mut parse_times, mut floors) = (Vec::new(), Vec::new());
    let (mut buffer, mut scratch) = (Vec::new(), Scratch::default());
    // One warm-up cycle: the first evaluation fires every already-matching job once (a baseline).
    for i in 0..=runs {
        // The floor and parsing alone (the previous poll's jobs still held), measured right
        // before each cycle so that all see the same conditions on a shared machine.
        let started = Instant::now();
        std::hint::black_box(floor(&bodies[i % 2], &mut buffer, &mut scratch));
        let floored = Instant::now();
        drop(std::hint::black_box(parse(&bodies[i % 2])));
        if i > 0 {
            floors.push(floored - started);
            parse_times.push(floored.elapsed());
        }
        let started = Instant::now();
        buffer.clear();
        buffer.extend_from_slice(&bodies[i % 2]);
        let next = read(&buffer, &previous, &mut scratch);
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
        let planned = plan(rules, &target, evaluation.firings, (&mut budget, &Default::default()), NOW);
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
    let (body, floor) = (bodies[0].len(), median(floors));
    Figures { body, floor, parse: median(parse_times), cycle: median(cycles), unchanged: median(quiet), rows, stages }
}

/// The floor, the full parse and the reusing read (nothing changed) of one recorded body, e.g. the
/// simulator's list of `scripts/benchmarks`; medians of 15, in one line the script reads.
fn recorded(path: &str) {
    let body = std::fs::read(path).expect("the recorded body");
    let (mut buffer, mut scratch) = (Vec::new(), Scratch::default());
    let jobs = floor(&body, &mut buffer, &mut scratch);
    let previous = read(&body, &Snapshot::default(), &mut scratch);
    let (mut floors, mut parses, mut reads) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..15 {
        let started = Instant::now();
        std::hint::black_box(floor(&body, &mut buffer, &mut scratch));
        floors.push(started.elapsed());
        let started = Instant::now();
        drop(std::hint::black_box(parse(&body)));
        parses.push(started.elapsed());
        let started = Instant::now();
        drop(std::hint::black_box(read(&buffer, &previous, &mut scratch)));
        reads.push(started.elapsed());
    }
    let ms = |d: Vec<Duration>| median(d).as_secs_f64() * 1e3;
    println!(
        "recorded body: {jobs} jobs, {:.1} MB; floor (copy + structural scan) {:.2} ms; full parse {:.2} ms; reusing read, nothing changed {:.2} ms",
        body.len() as f64 / 1e6,
        ms(floors),
        ms(parses),
        ms(reads)
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Ok(path) = std::env::var("NBWARDEN_BENCH_BODY") {
        recorded(&path);
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), rules_yaml()).unwrap();
    let rules = RuleSet::load(&[dir.path().join("rules.yaml")], &["t1000", "t10000", "t50000", "t100000"]).unwrap();
    assert_eq!(rules.rules.len(), 50);
    let store = SqlStore::open_sqlite(&dir.path().join("bench.db")).await.unwrap();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("changed  jobs     body      floor     parse alone  full cycle  cycle/parse  cycle/floor  rows written  diff      evaluate  commit    unchanged poll commit");
    for (every, label) in [(1000, "0.2%"), (100, "2%")] {
        for (n, runs) in [(1_000, 31), (10_000, 15), (50_000, 11), (100_000, 11)] {
            let f = measure(n, every, &rules, &store, runs).await;
            println!(
                "{label:<7} {n:>7}  {:>5.1} MB  {:>5.2} ms  {:>8.2} ms  {:>7.2} ms  {:>9.2}x  {:>9.2}x  {:>12}  {:>6.2} ms {:>6.2} ms {:>6.2} ms {:>6.2} ms (1 row)",
                f.body as f64 / 1e6,
                ms(f.floor),
                ms(f.parse),
                ms(f.cycle),
                f.cycle.as_secs_f64() / f.parse.as_secs_f64(),
                f.cycle.as_secs_f64() / f.floor.as_secs_f64(),
                f.rows,
                ms(f.stages[0]),
                ms(f.stages[1]),
                ms(f.stages[2]),
                ms(f.unchanged)
            );
        }
    }
}
