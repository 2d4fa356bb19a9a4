//! Sign-in that never locks an account (SPEC §4.8). Portal and ArcGIS Server lock an account for
//! 15 minutes after 5 refused sign-ins within 15 minutes, so every refusal is counted per account
//! (token URL + username, shared by every target using it): after one, the next try waits 1 min,
//! then 2, 4, … up to 1 h; never more than 3 refusals in any 15 minutes; 15 minutes after the
//! lockout answer. Changed credentials try at once (within the 3-in-15 cap). The decisions are
//! pure; `SignIns` keeps them per account and hands each refusal to a `SignInLog` (the store), so
//! that `once` from cron and a restarted daemon wait too.

use crate::clock::{Clock, LocalMs};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The window of the servers' lockout policy.
pub const WINDOW_MS: i64 = 15 * 60_000;
/// Refusals allowed within the window (the servers lock at 5).
pub const MAX_REFUSALS_IN_WINDOW: usize = 3;
/// The pause after a first refusal; it doubles with each further one.
pub const FIRST_PAUSE_MS: i64 = 60_000;
/// The longest pause after refusals.
pub const LONGEST_PAUSE_MS: i64 = 3_600_000;
/// The pause after the lockout answer.
pub const LOCKOUT_PAUSE_MS: i64 = 15 * 60_000;
/// Refusals remembered per account (enough for the doubling to reach its cap).
const REMEMBERED: usize = 16;

/// What a refused sign-in said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The credentials were refused.
    Refused,
    /// "Too many invalid attempts": the account is locked.
    Locked,
}

impl RefusalKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalKind::Refused => "refused",
            RefusalKind::Locked => "locked",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> RefusalKind {
        if text == "locked" {
            RefusalKind::Locked
        } else {
            RefusalKind::Refused
        }
    }

    /// The kind a refusal message describes.
    pub fn of_message(message: &str) -> RefusalKind {
        if message.to_ascii_lowercase().contains("too many invalid attempts") {
            RefusalKind::Locked
        } else {
            RefusalKind::Refused
        }
    }
}

/// One refused sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// When.
    pub at: LocalMs,
    /// Refused or locked.
    pub kind: RefusalKind,
    /// A 16-bit fingerprint of the credentials tried: enough to notice a change, too little to
    /// help anyone guess a password.
    pub credentials: u16,
    /// The server's words.
    pub message: String,
}

/// Why a sign-in must wait, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    /// The next safe try.
    pub until: LocalMs,
    /// For people.
    pub reason: String,
}

/// The refusals of one account since its last successful sign-in, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    refusals: Vec<Refusal>,
}

impl History {
    /// A history from stored refusals (any order).
    pub fn from_refusals(mut refusals: Vec<Refusal>) -> History {
        refusals.sort_by_key(|r| r.at);
        let skip = refusals.len().saturating_sub(REMEMBERED);
        History { refusals: refusals.split_off(skip) }
    }

    /// `None` when a sign-in with `credentials` may be tried at `now`; otherwise until when not.
    pub fn wait(&self, credentials: u16, now: LocalMs) -> Option<Wait> {
        let last = self.refusals.last()?;
        let mut waits = Vec::new();
        let recent: Vec<&Refusal> = self.refusals.iter().filter(|r| r.at > now.plus(-WINDOW_MS)).collect();
        if recent.len() >= MAX_REFUSALS_IN_WINDOW {
            let oldest_that_counts = recent[recent.len() - MAX_REFUSALS_IN_WINDOW];
            let reason = format!(
                "{} refused sign-ins within 15 minutes, the most nbwarden allows (the server locks at 5)",
                recent.len()
            );
            waits.push(Wait { until: oldest_that_counts.at.plus(WINDOW_MS), reason });
        }
        if last.credentials == credentials {
            waits.push(match last.kind {
                RefusalKind::Locked => Wait {
                    until: last.at.plus(LOCKOUT_PAUSE_MS),
                    reason: format!("the account is locked: \"{}\"", last.message),
                },
                RefusalKind::Refused => {
                    let streak = self.refusals.iter().rev().take_while(|r| r.credentials == credentials).count();
                    let pause = (FIRST_PAUSE_MS << (streak - 1).min(10)).min(LONGEST_PAUSE_MS);
                    let times = if streak == 1 { "once".to_string() } else { format!("{streak} times") };
                    Wait { until: last.at.plus(pause), reason: format!("refused {times}: {}", last.message) }
                }
            });
        }
        waits.into_iter().filter(|w| w.until > now).max_by_key(|w| w.until)
    }

    /// Counts a refusal (the oldest beyond `REMEMBERED` are forgotten).
    pub fn refused(&mut self, refusal: Refusal) {
        self.refusals.push(refusal);
        let forgotten = self.refusals.len().saturating_sub(REMEMBERED);
        self.refusals.drain(..forgotten);
    }
}

/// Where refusals are kept across processes (the state store).
#[async_trait::async_trait]
pub trait SignInLog: Send + Sync {
    /// Records a refusal of `account`.
    async fn refused(&self, account: &str, refusal: &Refusal);
    /// Forgets the refusals of `account` after a successful sign-in.
    async fn succeeded(&self, account: &str);
}

/// Every account's history, shared by all the targets of one process.
pub struct SignIns {
    accounts: Mutex<HashMap<String, History>>,
    log: Option<Arc<dyn SignInLog>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SignIns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIns").field("accounts", &self.accounts).finish_non_exhaustive()
    }
}

impl SignIns {
    /// Histories kept in memory only, on `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Arc<SignIns> {
        SignIns::persisted(HashMap::new(), None, clock)
    }

    /// Histories loaded from `log`'s store, and recorded there.
    pub fn persisted(
        accounts: HashMap<String, History>,
        log: Option<Arc<dyn SignInLog>>,
        clock: Arc<dyn Clock>,
    ) -> Arc<SignIns> {
        Arc::new(SignIns { accounts: Mutex::new(accounts), log, clock })
    }

    /// Now, on this gate's clock.
    pub fn now(&self) -> LocalMs {
        self.clock.now()
    }

    /// This gate's clock: the clock of this machine for every client that signs in through it.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// Whether `account` may try `credentials` now.
    pub fn wait(&self, account: &str, credentials: u16) -> Option<Wait> {
        let accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts.get(account).and_then(|h| h.wait(credentials, self.clock.now()))
    }

    /// Records a refusal; returns when the next try is safe.
    pub async fn refused(&self, account: &str, kind: RefusalKind, credentials: u16, message: &str) -> Wait {
        let refusal = Refusal { at: self.clock.now(), kind, credentials, message: message.to_string() };
        let wait = {
            let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
            let history = accounts.entry(account.to_string()).or_default();
            history.refused(refusal.clone());
            history.wait(credentials, refusal.at)
        };
        if let Some(log) = &self.log {
            log.refused(account, &refusal).await;
        }
        wait.unwrap_or(Wait { until: refusal.at, reason: message.to_string() })
    }

    /// Records a successful sign-in.
    pub async fn succeeded(&self, account: &str) {
        let had = self.accounts.lock().unwrap_or_else(|p| p.into_inner()).remove(account).is_some();
        if let (true, Some(log)) = (had, &self.log) {
            log.succeeded(account).await;
        }
    }
}

/// The account of a sign-in: the token URL and the username.
pub fn account(token_url: &str, username: &str) -> String {
    format!("{username} at {token_url}")
}

/// The 16-bit fingerprint of a password tried for `account`.
pub fn fingerprint(account: &str, password: &str) -> u16 {
    let hash = crate::text::fx_hash((account, password));
    (hash ^ (hash >> 16) ^ (hash >> 32) ^ (hash >> 48)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn refusal(at_ms: i64, kind: RefusalKind, credentials: u16) -> Refusal {
        Refusal { at: LocalMs(at_ms), kind, credentials, message: "Invalid username or password.".into() }
    }

    fn until(history: &History, credentials: u16, now: i64) -> Option<i64> {
        history.wait(credentials, LocalMs(now)).map(|w| w.until.0)
    }

    #[test]
    fn refusals_double_the_pause_from_one_minute_to_one_hour() {
        let mut history = History::default();
        assert_eq!(until(&history, 1, 0), None, "nothing refused: try");
        let mut at = 0;
        for expected_pause in [1, 2, 4, 8, 16, 32, 60, 60] {
            history.refused(refusal(at, RefusalKind::Refused, 1));
            let next = until(&history, 1, at).unwrap();
            let pause = (next - at) / MIN;
            // The 3-in-15-minutes cap may hold the next try back further than the doubling.
            assert!(pause >= expected_pause && pause <= 15.max(expected_pause), "{pause} after {at}");
            at = next;
        }
        assert_eq!(until(&history, 1, at - 1).map(|u| u - (at - 1)), Some(1));
    }

    #[test]
    fn never_more_than_three_refusals_in_fifteen_minutes() {
        let history = History::from_refusals(vec![
            refusal(0, RefusalKind::Refused, 1),
            refusal(MIN, RefusalKind::Refused, 2),
            refusal(2 * MIN, RefusalKind::Refused, 3),
        ]);
        assert_eq!(until(&history, 4, 2 * MIN), Some(15 * MIN), "new credentials too wait for the window");
        assert_eq!(until(&history, 4, 15 * MIN), None);
        // Simulate 3 hours of a process that tries whenever allowed, with changing credentials:
        // no 15-minute window ever holds more than 3 refusals.
        let mut history = History::default();
        let mut times = Vec::new();
        for minute in 0..180 {
            let now = minute * MIN;
            let credentials = (minute % 7) as u16;
            if history.wait(credentials, LocalMs(now)).is_none() {
                history.refused(refusal(now, RefusalKind::Refused, credentials));
                times.push(now);
            }
        }
        for (i, &t) in times.iter().enumerate() {
            assert!(times[i..].iter().take_while(|&&u| u < t + WINDOW_MS).count() <= 3, "{times:?}");
        }
    }

    #[test]
    fn the_lockout_answer_waits_fifteen_minutes() {
        let history = History::from_refusals(vec![refusal(0, RefusalKind::Locked, 1)]);
        let wait = history.wait(1, LocalMs(0)).unwrap();
        assert_eq!(wait.until, LocalMs(15 * MIN));
        assert!(wait.reason.contains("locked"), "{}", wait.reason);
        assert_eq!(until(&history, 1, 15 * MIN), None);
    }

    #[test]
    fn changed_credentials_try_at_once() {
        let history = History::from_refusals(vec![refusal(0, RefusalKind::Refused, 1)]);
        assert_eq!(until(&history, 1, 10), Some(MIN));
        assert_eq!(until(&history, 2, 10), None);
        assert_ne!(fingerprint("a", "pw1"), fingerprint("a", "pw2"));
        assert_ne!(fingerprint("a", "pw"), fingerprint("b", "pw"), "the account salts the fingerprint");
    }

    /// The pauses in real use: a gate on tokio's clock, with paused time.
    #[tokio::test(start_paused = true)]
    async fn a_refused_sign_in_waits_one_minute_then_two_on_tokio_time() {
        let gate = SignIns::new(std::sync::Arc::new(crate::clock::TokioClock::starting_at(1_000_000)));
        let first = gate.refused("a", RefusalKind::Refused, 1, "Invalid username or password.").await;
        assert_eq!(first.until, LocalMs(1_000_000 + MIN));
        tokio::time::sleep(std::time::Duration::from_millis(59_999)).await;
        assert!(gate.wait("a", 1).is_some(), "still paused a millisecond before the minute is over");
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        assert!(gate.wait("a", 1).is_none(), "a try is safe after one minute");
        let second = gate.refused("a", RefusalKind::Refused, 1, "Invalid username or password.").await;
        assert_eq!(second.until.since(gate.now()), 2 * MIN, "the second pause is two minutes");
        tokio::time::sleep(std::time::Duration::from_secs(120)).await;
        assert!(gate.wait("a", 1).is_none());
    }

    #[test]
    fn the_reason_says_how_often_and_how_many_within_the_window() {
        let mut history = History::default();
        history.refused(refusal(0, RefusalKind::Refused, 1));
        assert_eq!(history.wait(1, LocalMs(0)).unwrap().reason, "refused once: Invalid username or password.");
        history.refused(refusal(MIN, RefusalKind::Refused, 1));
        assert_eq!(history.wait(1, LocalMs(MIN)).unwrap().reason, "refused 2 times: Invalid username or password.");
        // Four refusals, the first exactly 15 minutes ago: it no longer counts.
        let four = History::from_refusals((0..4).map(|m| refusal(m * MIN, RefusalKind::Refused, m as u16)).collect());
        let wait = four.wait(9, LocalMs(15 * MIN)).unwrap();
        assert_eq!(wait.until, LocalMs(16 * MIN));
        assert!(wait.reason.starts_with("3 refused sign-ins within 15 minutes"), "{}", wait.reason);
    }

    #[test]
    fn only_the_last_sixteen_refusals_are_kept() {
        let mut history = History::default();
        for m in 0..20 {
            history.refused(refusal(m * MIN, RefusalKind::Refused, m as u16));
        }
        let kept: Vec<i64> = history.refusals.iter().map(|r| r.at.0 / MIN).collect();
        assert_eq!(kept, (4..20).collect::<Vec<i64>>());
    }

    /// The store's side of the gate, for what it is told.
    #[derive(Default)]
    struct Told(Mutex<Vec<String>>);

    #[async_trait::async_trait]
    impl SignInLog for Told {
        async fn refused(&self, account: &str, _: &Refusal) {
            self.0.lock().unwrap().push(format!("refused {account}"));
        }
        async fn succeeded(&self, account: &str) {
            self.0.lock().unwrap().push(format!("succeeded {account}"));
        }
    }

    #[tokio::test]
    async fn a_successful_sign_in_clears_the_accounts_refusals_here_and_in_the_store() {
        let told = Arc::new(Told::default());
        let clock = Arc::new(crate::clock::ManualClock::at(0));
        let gate = SignIns::persisted(HashMap::new(), Some(told.clone()), clock);
        let (admin, other) = (
            account("https://gis/portal/sharing/rest/generateToken", "admin"),
            account("https://gis/portal/sharing/rest/generateToken", "ops"),
        );
        assert_eq!(admin, "admin at https://gis/portal/sharing/rest/generateToken");
        gate.refused(&admin, RefusalKind::Refused, 1, "Invalid username or password.").await;
        assert!(gate.wait(&admin, 1).is_some() && gate.wait(&other, 1).is_none(), "one account's pause");
        assert!(format!("{gate:?}").starts_with("SignIns { accounts: Mutex { data: {\"admin at"), "{gate:?}");
        gate.succeeded(&admin).await;
        assert!(gate.wait(&admin, 1).is_none(), "cleared: the next refusal waits one minute again");
        gate.succeeded(&other).await;
        let told = told.0.lock().unwrap().clone();
        assert_eq!(told, [format!("refused {admin}"), format!("succeeded {admin}")], "nothing to clear for ops");
    }

    /// A fingerprint folds the whole hash into 16 bits: 2,000 passwords of one account give
    /// about as many fingerprints as uniform 16-bit values would (some 30 collide by chance).
    #[test]
    fn fingerprints_spread_over_sixteen_bits() {
        let distinct: std::collections::HashSet<u16> =
            (0..2_000).map(|i| fingerprint("admin at https://gis", &format!("password-{i}"))).collect();
        assert!(distinct.len() > 1_930, "{} distinct of 2000", distinct.len());
    }

    #[test]
    fn the_message_names_its_kind() {
        assert_eq!(RefusalKind::of_message("Too many invalid attempts. Please try again later."), RefusalKind::Locked);
        assert_eq!(RefusalKind::of_message("Invalid username or password."), RefusalKind::Refused);
        assert_eq!(RefusalKind::parse(RefusalKind::Locked.as_str()), RefusalKind::Locked);
    }
}
