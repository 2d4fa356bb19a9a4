//! The status page's activity on both backends: a slot written again replaces its row; slots a
//! day old are dropped; each target and scope apart; read back oldest first.

use super::*;
use crate::activity::{Slot, SLOT_MS, SPAN_MS};

fn slot(start: i64, running: usize, failures: u32) -> Slot {
    Slot { start_ms: LocalMs(start), running, failures }
}

async fn activity_is_kept_per_target_and_scope_for_a_day(backend: Backend) {
    let (_place, store) = open(backend).await;
    let keep = |target: &'static str, scope: Scope, s: Slot| {
        let store = &store;
        async move { store.save_activity(scope, target, &s, s.start_ms.plus(-SPAN_MS)).await.unwrap() }
    };
    keep("prod", Scope::Real, slot(0, 3, 0)).await;
    keep("prod", Scope::Real, slot(SLOT_MS, 2, 0)).await;
    keep("prod", Scope::Real, slot(SLOT_MS, 5, 1)).await;
    keep("dev", Scope::Real, slot(SLOT_MS, 9, 0)).await;
    keep("prod", Scope::Dry, slot(SLOT_MS, 7, 0)).await;
    let read = |target: &'static str, scope: Scope, since: i64| {
        let store = &store;
        async move { store.activity(scope, target, LocalMs(since)).await.unwrap() }
    };
    assert_eq!(read("prod", Scope::Real, 0).await, [slot(0, 3, 0), slot(SLOT_MS, 5, 1)], "the slot replaced");
    assert_eq!(read("prod", Scope::Real, 1).await, [slot(SLOT_MS, 5, 1)], "from `since` on");
    assert_eq!(read("dev", Scope::Real, 0).await, [slot(SLOT_MS, 9, 0)]);
    assert_eq!(read("prod", Scope::Dry, 0).await, [slot(SLOT_MS, 7, 0)]);
    keep("prod", Scope::Real, slot(SPAN_MS + SLOT_MS / 2, 1, 0)).await;
    assert_eq!(
        read("prod", Scope::Real, 0).await,
        [slot(SLOT_MS, 5, 1), slot(SPAN_MS + SLOT_MS / 2, 1, 0)],
        "a day later the first slot is gone"
    );
    assert_eq!(read("dev", Scope::Real, 0).await.len(), 1, "another target's are not");
}
on_both!(activity_is_kept_per_target_and_scope_for_a_day);
