//! Each target's activity (the status page's chart) kept in the state store: read back when the
//! target's task starts, and written when a poll changed the current slot.

use super::Context;
use crate::activity::{Activity, Slot, SPAN_MS};

/// What was last written for one target.
#[derive(Default)]
pub(super) struct Kept(Option<Slot>);

impl Kept {
    /// Puts what the store kept of `target` on the board.
    pub(super) async fn restore(cx: &Context, target: &str) -> Kept {
        let now = cx.now();
        let store = &cx.shared.dispatch.store;
        match store.activity(cx.shared.dispatch.scope(), target, now.plus(-SPAN_MS)).await {
            Ok(slots) => {
                let activity = Activity::restored(slots, now);
                let kept = Kept(activity.latest());
                cx.board.restore_activity(target, activity);
                kept
            }
            Err(e) => {
                tracing::warn!(target_name = %target, error = %e, "cannot read the kept activity; the chart starts afresh");
                Kept(None)
            }
        }
    }

    /// Writes the board's current slot of `target` when it changed since the last write.
    pub(super) async fn save(&mut self, cx: &Context, target: &str) {
        let Some(slot) = cx.board.latest_slot(target).filter(|s| Some(*s) != self.0) else { return };
        let store = &cx.shared.dispatch.store;
        let drop_before = slot.start_ms.plus(-SPAN_MS);
        match store.save_activity(cx.shared.dispatch.scope(), target, &slot, drop_before).await {
            Ok(()) => self.0 = Some(slot),
            Err(e) => tracing::warn!(target_name = %target, error = %e, "cannot keep the activity for the chart"),
        }
    }
}
