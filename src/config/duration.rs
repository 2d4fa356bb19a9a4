//! Durations written as `90s`, `15m`, `2h`, `1h30m`, `7d` in the configuration and rules.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A configured duration; parses the human forms of SPEC §2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ConfigDuration(pub Duration);

impl FromStr for ConfigDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        humantime::parse_duration(text)
            .map(ConfigDuration)
            .map_err(|e| format!("invalid duration `{text}` ({e}); write e.g. 90s, 15m, 2h, 1h30m, 7d"))
    }
}

impl fmt::Display for ConfigDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(de::Error::custom)
    }
}

impl Serialize for ConfigDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

/// A duration for people: `1h32m`, `45s`, `2d3h`; seconds are dropped past an hour.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (days, hours, mins, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (value, unit) in [(days, "d"), (hours, "h"), (mins, "m")] {
        if value > 0 {
            out.push_str(&format!("{value}{unit}"));
        }
    }
    if secs < 3600 && (s > 0 || out.is_empty()) {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_forms() {
        for (text, secs) in [("90s", 90), ("15m", 900), ("2h", 7200), ("1h30m", 5400), ("7d", 604_800)] {
            let d: ConfigDuration = text.parse().unwrap();
            assert_eq!(d.0.as_secs(), secs, "{text}");
        }
    }

    #[test]
    fn rejects_garbage_with_a_hint() {
        let err = "ninety".parse::<ConfigDuration>().unwrap_err();
        assert!(err.contains("1h30m"), "{err}");
    }

    #[test]
    fn formats_for_people() {
        for (secs, text) in [(0, "0s"), (45, "45s"), (90, "1m30s"), (5520, "1h32m"), (90_061, "1d1h1m")] {
            assert_eq!(format_duration(Duration::from_secs(secs)), text);
        }
    }
}
