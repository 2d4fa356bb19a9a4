//! serde_json, sonic-rs and simd-json read the same job list into the same types, in alternating
//! rounds; medians of 15 reads each, and each one's ratio to serde_json. The list is the file named
//! by `NBWARDEN_BENCH_BODY` (`scripts/benchmarks` records the simulator's 50,000-job list there), or
//! else 50,000 jobs made here.

use nbwarden_json_readers::{body, List};
use std::time::{Duration, Instant};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let body = match std::env::var("NBWARDEN_BENCH_BODY") {
        Ok(path) => std::fs::read(path).expect("the recorded list"),
        Err(_) => body(50_000),
    };
    let want: List = serde_json::from_slice(&body).unwrap();
    assert_eq!(sonic_rs::from_slice::<List>(&body).unwrap(), want);
    assert_eq!(simd_json::serde::from_slice::<List>(&mut body.clone()).unwrap(), want);
    let (mut serde, mut sonic, mut simd) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..15 {
        let started = Instant::now();
        std::hint::black_box(serde_json::from_slice::<List>(&body).unwrap());
        serde.push(started.elapsed());
        let started = Instant::now();
        std::hint::black_box(sonic_rs::from_slice::<List>(&body).unwrap());
        sonic.push(started.elapsed());
        // simd-json reads a buffer it may write to: the copy is made before the clock starts.
        let mut copy = body.clone();
        let started = Instant::now();
        std::hint::black_box(simd_json::serde::from_slice::<List>(&mut copy).unwrap());
        simd.push(started.elapsed());
    }
    let serde = median(serde);
    let jobs = want.async_notebook_jobs.len();
    println!("reader      {jobs} jobs, {:.1} MB   median    vs serde_json", body.len() as f64 / 1e6);
    for (name, time) in [("serde_json", serde), ("sonic-rs", median(sonic)), ("simd-json", median(simd))] {
        println!("{name:<11} {:>22.2} ms  {:>9.2}x", time.as_secs_f64() * 1e3, serde.as_secs_f64() / time.as_secs_f64());
    }
}
