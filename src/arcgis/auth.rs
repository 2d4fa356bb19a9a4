//! Tokens: when a cached token is still fresh, and the server clock estimated from `Date` headers.

pub use crate::clock::local_now_ms;
use crate::clock::Clock;
use crate::secret::Secret;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

/// Refresh this long before expiry (or at half the lifetime, if that is shorter).
const REFRESH_AHEAD_MS: i64 = 5 * 60 * 1000;

/// A token as generateToken issued it, with times on the server's clock.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The token.
    pub token: Secret,
    /// Epoch ms at which the server stops accepting it.
    pub expires_ms: i64,
    /// Epoch ms at which it was issued.
    pub issued_ms: i64,
}

impl Issued {
    /// A token issued at `now_ms`; an expiry that is missing or already past counts as
    /// `fallback` from now, so that a confused server cannot cause a sign-in on every call.
    pub fn new(token: Secret, expires_ms: Option<i64>, now_ms: i64, fallback: Duration) -> Issued {
        let fallback_ms = now_ms + fallback.as_millis() as i64;
        let expires_ms = expires_ms.filter(|&e| e > now_ms + 1000).unwrap_or(fallback_ms);
        Issued { token, expires_ms, issued_ms: now_ms }
    }

    /// Still usable at `now_ms` without refreshing.
    pub fn fresh(&self, now_ms: i64) -> bool {
        let lifetime = self.expires_ms - self.issued_ms;
        let margin = REFRESH_AHEAD_MS.min(lifetime / 2);
        now_ms < self.expires_ms - margin
    }
}

/// The token cache of one target.
#[derive(Debug, Default)]
pub struct TokenCache {
    /// The token in use.
    pub current: Option<Issued>,
}

/// The server's clock, as estimated from the `Date` header of each response against this
/// machine's clock.
#[derive(Debug)]
pub struct ServerClock {
    offset_ms: AtomicI64,
    local: Arc<dyn Clock>,
}

impl ServerClock {
    /// A server clock estimated against `local`; the same as `local` until a `Date` is seen.
    pub fn new(local: Arc<dyn Clock>) -> ServerClock {
        ServerClock { offset_ms: AtomicI64::new(0), local }
    }

    /// Now on this machine's clock, epoch ms.
    pub fn local_ms(&self) -> i64 {
        self.local.now_ms()
    }

    /// Records one response: `date` as sent by the server, between `sent_ms` and `received_ms`.
    pub fn observe(&self, date: Option<&str>, sent_ms: i64, received_ms: i64) {
        let Some(server) = date.and_then(|d| httpdate::parse_http_date(d).ok()) else { return };
        let Ok(server_ms) = server.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64) else { return };
        // `Date` has whole seconds: its middle is half a second later.
        let offset = server_ms + 500 - (sent_ms + received_ms) / 2;
        self.offset_ms.store(offset, Ordering::Relaxed);
    }

    /// Server time minus local time, in ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Now, on the server's clock.
    pub fn now_ms(&self) -> i64 {
        self.local_ms() + self.offset_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_five_minutes_ahead_or_at_half_life() {
        let hour = Issued::new(Secret::new("t"), Some(3_600_000), 0, Duration::ZERO);
        assert!(hour.fresh(3_600_000 - 300_001));
        assert!(!hour.fresh(3_600_000 - 300_000));
        let short = Issued::new(Secret::new("t"), Some(120_000), 0, Duration::ZERO);
        assert!(short.fresh(59_999) && !short.fresh(60_000), "2-minute token refreshes at half-life");
    }

    #[test]
    fn a_past_or_missing_expiry_uses_the_configured_lifetime() {
        let past = Issued::new(Secret::new("t"), Some(10), 50_000, Duration::from_secs(60));
        assert_eq!(past.expires_ms, 110_000);
        let missing = Issued::new(Secret::new("t"), None, 0, Duration::from_secs(60));
        assert_eq!(missing.expires_ms, 60_000);
    }

    #[test]
    fn clock_offset_from_the_date_header() {
        let clock = ServerClock::new(crate::clock::system());
        let local = 1_700_000_000_000_i64;
        let ten_minutes_ahead = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis((local + 600_000) as u64));
        clock.observe(Some(&ten_minutes_ahead), local - 100, local + 100);
        assert!((clock.offset_ms() - 600_000).abs() <= 1000, "{}", clock.offset_ms());
        clock.observe(Some("not a date"), 0, 0);
        assert!((clock.offset_ms() - 600_000).abs() <= 1000, "garbage leaves the estimate alone");
    }
}
