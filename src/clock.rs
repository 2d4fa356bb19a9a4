//! The clock seam (leaf module): one real clock at the edge; a manual one and one that follows
//! tokio's (pausable) time for tests.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Where "now" comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now on this machine's clock, epoch ms.
    fn now_ms(&self) -> i64;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        local_now_ms()
    }
}

/// Now on this machine's clock, epoch ms.
pub fn local_now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A clock that moves only when told to (tests).
#[derive(Debug, Default, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock standing at `now_ms`.
    pub fn at(now_ms: i64) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(now_ms)))
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// This machine's clock as tokio's timers see it: a start instant plus tokio's elapsed time.
/// With paused time (`tokio::time::pause`), every timer and every "now" move together, so that
/// schedules, backoff and pauses are tested in an instant.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start_ms: i64,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads `now_ms` at tokio's now.
    pub fn starting_at(now_ms: i64) -> TokioClock {
        TokioClock { start_ms: now_ms, start: tokio::time::Instant::now() }
    }
}

impl Clock for TokioClock {
    fn now_ms(&self) -> i64 {
        self.start_ms + self.start.elapsed().as_millis() as i64
    }
}

/// The real clock, shared.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}
