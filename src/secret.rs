//! Secrets (passwords, tokens): a string whose `Debug` and `Display` never show it, and the
//! values known to be secret (the configured secrets, and what `${VAR}` took from the environment),
//! masked wherever a plugin shows text that may carry one (an `exec` argument).

use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::fmt;
use std::sync::RwLock;

/// Values known to be secret, longest first (so that a longer one is masked whole).
static KNOWN: RwLock<Vec<String>> = RwLock::new(Vec::new());
/// Shorter values are not masked: they would hide ordinary words.
const SHORTEST_MASKED: usize = 4;

/// Remembers `value` as secret for [`mask`] (the configuration's secrets and environment values).
pub fn remember(value: &str) {
    let value = value.trim();
    if value.len() < SHORTEST_MASKED {
        return;
    }
    let mut known = KNOWN.write().unwrap_or_else(|p| p.into_inner());
    if !known.iter().any(|k| k == value) {
        known.push(value.to_string());
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
    }
}

/// `text` with every remembered secret value replaced by `***`.
pub fn mask(text: &str) -> Cow<'_, str> {
    let known = KNOWN.read().unwrap_or_else(|p| p.into_inner());
    let mut out = Cow::Borrowed(text);
    for value in known.iter().filter(|v| text.contains(v.as_str())) {
        out = Cow::Owned(out.replace(value.as_str(), "***"));
    }
    out
}

/// Whether `text` holds a remembered secret value.
pub fn holds_secret(text: &str) -> bool {
    KNOWN.read().unwrap_or_else(|p| p.into_inner()).iter().any(|v| text.contains(v.as_str()))
}

/// A password or token. Only [`Secret::expose`] reveals the value; formatting prints `[redacted]`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The real value, for the one place that sends it over the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no value was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// Any scalar: a password may be all digits (`password: 123456`); a type error would echo it.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Scalar;
        impl serde::de::Visitor<'_> for Scalar {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a secret (text)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Secret, E> {
                Ok(Secret(v.to_string()))
            }
        }
        d.deserialize_any(Scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_values_are_masked() {
        remember("Tok3n-for-the-mask-test");
        remember("ab");
        assert_eq!(mask("--token=Tok3n-for-the-mask-test x"), "--token=*** x");
        assert!(holds_secret("Tok3n-for-the-mask-test") && !holds_secret("ab cd"));
        assert_eq!(mask("ab"), "ab", "too short to be masked");
    }

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "[redacted]");
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{:?}", Some(&s)).contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }
}
