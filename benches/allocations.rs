//! What one steady cycle allocates (the same list again: nothing changed): read, diff, evaluate
//! 50 rules, plan and commit, counted by a counting allocator (the counts do not depend on the
//! allocator; the timings of `cargo bench --bench cycle` use the binary's own).
//! Run: `cargo bench --bench allocations`.

mod common;

use common::{body, commit, read, rules_yaml, NOW};
use nbwarden::arcgis::wire::Scratch;
use nbwarden::config::LimitsConfig;
use nbwarden::cycle::{plan, Budget};
use nbwarden::diff::{diff, Snapshot};
use nbwarden::ledger::{LedgerIndex, Streaks};
use nbwarden::rules::{evaluate::Input, RuleSet};
use nbwarden::store::{SqlStore, Store};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// What one steady cycle (the same list again: nothing changed) allocates: read, diff, evaluate,
/// plan and commit, after a warm-up.
async fn steady_allocations(n: usize, rules: &RuleSet, store: &SqlStore, label: &str) -> stats_alloc::Stats {
    let body = body(n, 1000, 1);
    let target = format!("steady{n}-{label}");
    let mut scratch = Scratch::default();
    let mut previous = read(&body, &Snapshot::default(), &mut scratch);
    let baseline = diff(None, &previous);
    store.commit_poll(&commit(&target, &previous, &baseline.upserts, Vec::new())).await.unwrap();
    let mut ledger = LedgerIndex::default();
    let mut buffer = Vec::new();
    let mut counted = stats_alloc::Stats::default();
    for round in 0..3 {
        let region = Region::new(ALLOCATOR);
        buffer.clear();
        buffer.extend_from_slice(&body);
        let next = read(&buffer, &previous, &mut scratch);
        let delta = diff(Some(&previous), &next);
        let input = Input {
            target: &target,
            now: NOW,
            snapshot: &next,
            events: &delta.events,
            ledger: &ledger,
            streaks: &Streaks::new(),
            usual: nbwarden::usual::Usual::empty(),
        };
        let evaluation = rules.evaluate(&input);
        let mut budget = Budget::new(&LimitsConfig::default(), next.len() / 10, 0);
        let planned = plan(rules, &target, evaluation.firings, (&mut budget, &Default::default()), NOW);
        for record in &planned.ledger {
            ledger.record(&record.rule, &record.job_id, &record.trigger, NOW);
        }
        store.commit_poll(&commit(&target, &next, &delta.upserts, planned.ledger)).await.unwrap();
        previous = next;
        if round == 2 {
            counted = region.change();
        }
    }
    counted
}

/// The two rules of `scripts/benchmarks` section 5, with a limit no listed job is near: a steady
/// poll where nothing fires.
const QUIET: &str = "rules:
  - { name: runaway, match: { status: running, runtime_over: 3h }, actions: [{ type: cancel }] }
  - { name: failed, on: status_changed, match: { to: failed }, actions: [{ type: log }] }
";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), rules_yaml()).unwrap();
    std::fs::write(dir.path().join("quiet.yaml"), QUIET).unwrap();
    let store = SqlStore::open_sqlite(&dir.path().join("bench.db")).await.unwrap();
    let sets = [
        ("rules.yaml", "50 rules of the cycle bench (the cancels a limit holds back fire again at each poll, each firing a copy of its job)"),
        ("quiet.yaml", "2 rules, nothing firing (section 5's, with a 3 h limit)"),
    ];
    for (file, label) in sets {
        let rules = RuleSet::load(&[dir.path().join(file)], &[]).unwrap();
        println!("steady cycle (nothing changed), {label}");
        println!("             allocations  bytes allocated  reallocations");
        for n in [1_000, 10_000, 50_000, 100_000] {
            let s = steady_allocations(n, &rules, &store, file).await;
            println!(
                "{n:>7} jobs {:>12}  {:>12.1} KB  {:>13}",
                s.allocations,
                s.bytes_allocated as f64 / 1e3,
                s.reallocations
            );
        }
    }
}
