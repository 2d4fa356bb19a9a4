//! Dispatch: the one place that decides whether to act. `commit` writes the core's decision for a
//! poll and reports it as the run mode says; execution runs queued actions with retries and
//! records every outcome. The run mode is looked at here and nowhere else.

mod commit;
pub use commit::Committed;
mod execute;

pub use execute::{RetryPolicy, DUE_PAGE};

use crate::actions::Services;
use crate::clock::Clock;
use crate::rules::RuleSet;
use crate::store::{Scope, Store};
use std::sync::Arc;

/// Polls a cancelled job may stay running before `cancel_ignored` is reported.
pub const CANCEL_CHECK_POLLS: u32 = 3;

/// How actions are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plan, commit, execute.
    Act,
    /// `run --dry-run`: plan and commit in the dry-run scope; never execute.
    DryRun,
    /// `once --dry-run`: plan and report; write nothing, execute nothing.
    Preview,
}

impl Mode {
    /// The store scope of this mode.
    pub fn scope(self) -> Scope {
        match self {
            Mode::Act | Mode::Preview => Scope::Real,
            Mode::DryRun => Scope::Dry,
        }
    }

    /// Whether anything is written to the store.
    pub fn writes(self) -> bool {
        self != Mode::Preview
    }
}

/// What dispatch works with: the rules (queued actions take their secrets from the current
/// ones), the store, the run mode, the plugins' services and the clock of this machine.
pub struct Dispatcher {
    /// The current rules.
    pub rules: Arc<RuleSet>,
    /// The state store.
    pub store: Arc<dyn Store>,
    /// How actions are treated.
    pub mode: Mode,
    /// Mail transport, owner cache, HTTP client, progress journal.
    pub services: Arc<Services>,
    /// This machine's clock (the queue and the audit trail).
    pub clock: Arc<dyn Clock>,
}

impl Dispatcher {
    /// The store scope of the run mode.
    pub fn scope(&self) -> Scope {
        self.mode.scope()
    }

    /// Now on this machine's clock.
    pub fn now(&self) -> crate::clock::LocalMs {
        self.clock.now()
    }
}

/// A crash point for the crash tests, in builds with the `failpoints` feature only: when
/// `NBWARDEN_FAILPOINT` names it, the process says so on stderr and waits there to be killed.
#[cfg(feature = "failpoints")]
async fn failpoint(name: &str) {
    if std::env::var("NBWARDEN_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: waiting to be killed");
        std::future::pending::<()>().await;
    }
}

#[cfg(not(feature = "failpoints"))]
async fn failpoint(_: &str) {}

#[cfg(test)]
mod tests;
