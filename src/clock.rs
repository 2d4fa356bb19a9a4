//! The clock seam (leaf module): one real clock at the edge; a manual one and one that follows
//! tokio's (pausable) time for tests.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Where "now" comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now on this machine's clock.
    fn now(&self) -> LocalMs;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> LocalMs {
        LocalMs(local_now_ms())
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
    fn now(&self) -> LocalMs {
        LocalMs(self.0.load(Ordering::SeqCst))
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
    fn now(&self) -> LocalMs {
        LocalMs(self.start_ms + self.start.elapsed().as_millis() as i64)
    }
}

/// The real clock, shared.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// An instant on a target's server clock (what its `Date` headers say), epoch ms: when a job
/// started, when a poll saw it, when a rule fires. Never compared with a `LocalMs` without the
/// target's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServerMs(pub i64);

/// An instant on this machine's clock, epoch ms: the queue, backoff, the audit trail, the cron
/// slots of digests, the scheduler's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LocalMs(pub i64);

/// `instant ± ms` and `instant - instant = ms`, for both clocks; never across them.
macro_rules! instant_arithmetic {
    ($clock:ident) => {
        impl std::ops::Add<i64> for $clock {
            type Output = $clock;
            fn add(self, ms: i64) -> $clock {
                $clock(self.0.saturating_add(ms))
            }
        }

        impl std::ops::Sub<i64> for $clock {
            type Output = $clock;
            fn sub(self, ms: i64) -> $clock {
                $clock(self.0.saturating_sub(ms))
            }
        }

        impl std::ops::Sub for $clock {
            type Output = i64;
            fn sub(self, earlier: $clock) -> i64 {
                self.0.saturating_sub(earlier.0)
            }
        }
    };
}

instant_arithmetic!(ServerMs);
instant_arithmetic!(LocalMs);

impl From<ServerMs> for i64 {
    fn from(at: ServerMs) -> i64 {
        at.0
    }
}

impl From<LocalMs> for i64 {
    fn from(at: LocalMs) -> i64 {
        at.0
    }
}

/// How far a target's server clock is ahead of this machine's, ms (server minus local).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offset(pub i64);

impl Offset {
    /// The offset between a server's now and this machine's now, read together.
    pub fn between(server: ServerMs, local: LocalMs) -> Offset {
        Offset(server.0 - local.0)
    }
}

impl ServerMs {
    /// The same instant on this machine's clock.
    pub fn on_local(self, offset: Offset) -> LocalMs {
        LocalMs(self.0 - offset.0)
    }

    /// This instant plus `ms`.
    pub fn plus(self, ms: i64) -> ServerMs {
        ServerMs(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to this instant (negative when `earlier` is later).
    pub fn since(self, earlier: ServerMs) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl LocalMs {
    /// The same instant on a server's clock.
    pub fn on_server(self, offset: Offset) -> ServerMs {
        ServerMs(self.0 + offset.0)
    }

    /// This instant plus `ms`.
    pub fn plus(self, ms: i64) -> LocalMs {
        LocalMs(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to this instant (negative when `earlier` is later).
    pub fn since(self, earlier: LocalMs) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}
