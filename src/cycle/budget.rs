//! The blast-radius budget (pure): how many destructive firings one poll of one target may still
//! plan, the tightest of the per-poll, per-hour and share-of-running limits.

use crate::config::LimitsConfig;

/// How many destructive firings one poll of one target may still plan; shadow rules may have a
/// budget of their own, so that their planned cancels never use up the real ones (and the reverse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub(crate) left: u32,
    pub(crate) reason: String,
    shadow: Option<Box<Budget>>,
}

impl Budget {
    /// The tightest of the per-poll, per-hour and share-of-running limits (one job always allowed).
    pub fn new(limits: &LimitsConfig, running: usize, cancels_last_hour: u32) -> Budget {
        let share = ((limits.max_cancel_fraction * running as f64).floor() as u32).max(1);
        let hour = limits.max_cancels_per_hour.saturating_sub(cancels_last_hour);
        let candidates = [
            (limits.max_cancels_per_poll, format!("max_cancels_per_poll ({})", limits.max_cancels_per_poll)),
            (
                hour,
                format!("max_cancels_per_hour ({}, {cancels_last_hour} in the last hour)", limits.max_cancels_per_hour),
            ),
            (share, format!("max_cancel_fraction ({} of {running} running)", limits.max_cancel_fraction)),
        ];
        let (left, reason) = candidates.into_iter().min_by_key(|(n, _)| *n).unwrap_or((0, String::new()));
        Budget { left, reason, shadow: None }
    }

    /// The budget of one read of the open notebooks: the tighter of `max_closes_per_poll` and
    /// what `max_closes_per_hour` leaves.
    pub fn closes(limits: &LimitsConfig, closes_last_hour: u32) -> Budget {
        let hour = limits.max_closes_per_hour.saturating_sub(closes_last_hour);
        let candidates = [
            (limits.max_closes_per_poll, format!("max_closes_per_poll ({})", limits.max_closes_per_poll)),
            (
                hour,
                format!("max_closes_per_hour ({}, {closes_last_hour} in the last hour)", limits.max_closes_per_hour),
            ),
        ];
        let (left, reason) = candidates.into_iter().min_by_key(|(n, _)| *n).unwrap_or((0, String::new()));
        Budget { left, reason, shadow: None }
    }

    /// This budget, with `shadow` for the cancels of shadow rules.
    pub fn with_shadow(mut self, shadow: Budget) -> Budget {
        self.shadow = Some(Box::new(shadow));
        self
    }

    /// The budget a rule's cancels count against.
    pub(super) fn of(&mut self, shadow: bool) -> &mut Budget {
        match (shadow, self.shadow.is_some()) {
            (true, true) => self.shadow.as_deref_mut().expect("a shadow budget"),
            _ => self,
        }
    }

    pub(super) fn take(&mut self) -> bool {
        let ok = self.left > 0;
        self.left = self.left.saturating_sub(1);
        ok
    }
}
