//! Tokens: when a cached token is still fresh, and the server clock estimated from `Date` headers.

pub use crate::clock::local_now_ms;
use crate::clock::{Clock, LocalMs, Offset, ServerMs};
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
    /// When the server stops accepting it.
    pub expires: ServerMs,
    /// When it was issued.
    pub issued: ServerMs,
}

impl Issued {
    /// A token issued at `now`; an expiry that is missing or already past counts as
    /// `fallback` from now, so that a confused server cannot cause a sign-in on every call.
    pub fn new(token: Secret, expires: Option<ServerMs>, now: ServerMs, fallback: Duration) -> Issued {
        let fallback_at = now.plus(fallback.as_millis() as i64);
        let expires = expires.filter(|&e| e > now.plus(1000)).unwrap_or(fallback_at);
        Issued { token, expires, issued: now }
    }

    /// Still usable at `now` without refreshing.
    pub fn fresh(&self, now: ServerMs) -> bool {
        let lifetime = self.expires.since(self.issued);
        let margin = REFRESH_AHEAD_MS.min(lifetime / 2);
        now < self.expires.plus(-margin)
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

    /// Now on this machine's clock.
    pub fn local(&self) -> LocalMs {
        self.local.now()
    }

    /// Records one response: `date` as sent by the server, between `sent_ms` and `received_ms`.
    pub fn observe(&self, date: Option<&str>, sent: LocalMs, received: LocalMs) {
        let Some(server) = date.and_then(|d| httpdate::parse_http_date(d).ok()) else { return };
        let Ok(server_ms) = server.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64) else { return };
        // `Date` has whole seconds: its middle is half a second later.
        let offset = server_ms + 500 - (sent.0 + received.0) / 2;
        self.offset_ms.store(offset, Ordering::Relaxed);
    }

    /// Server time minus local time, in ms.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Now, on the server's clock.
    pub fn server_now(&self) -> ServerMs {
        self.local().on_server(Offset(self.offset_ms()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_five_minutes_ahead_or_at_half_life() {
        let hour = Issued::new(Secret::new("t"), Some(ServerMs(3_600_000)), ServerMs(0), Duration::ZERO);
        assert!(hour.fresh(ServerMs(3_600_000 - 300_001)));
        assert!(!hour.fresh(ServerMs(3_600_000 - 300_000)));
        let short = Issued::new(Secret::new("t"), Some(ServerMs(120_000)), ServerMs(0), Duration::ZERO);
        assert!(
            short.fresh(ServerMs(59_999)) && !short.fresh(ServerMs(60_000)),
            "2-minute token refreshes at half-life"
        );
    }

    #[test]
    fn a_past_or_missing_expiry_uses_the_configured_lifetime() {
        let past = Issued::new(Secret::new("t"), Some(ServerMs(10)), ServerMs(50_000), Duration::from_secs(60));
        assert_eq!(past.expires, ServerMs(110_000));
        let missing = Issued::new(Secret::new("t"), None, ServerMs(0), Duration::from_secs(60));
        assert_eq!(missing.expires, ServerMs(60_000));
    }

    #[test]
    fn clock_offset_from_the_date_header() {
        let clock = ServerClock::new(crate::clock::system());
        let local = 1_700_000_000_000_i64;
        let ten_minutes_ahead = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis((local + 600_000) as u64));
        clock.observe(Some(&ten_minutes_ahead), LocalMs(local - 100), LocalMs(local + 100));
        assert!((clock.offset_ms() - 600_000).abs() <= 1000, "{}", clock.offset_ms());
        clock.observe(Some("not a date"), LocalMs(0), LocalMs(0));
        assert!((clock.offset_ms() - 600_000).abs() <= 1000, "garbage leaves the estimate alone");
    }
}
