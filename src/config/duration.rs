//! Durations written as `90s`, `15m`, `2h`, `1h30m`, `7d` in the configuration and rules: whole
//! numbers each followed by a unit (`ms`, `s`, `m`, `h`, `d`, `w`), nothing else.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A configured duration; parses the human forms of SPEC §2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ConfigDuration(pub Duration);

/// The units, in milliseconds.
const UNITS: [(&str, u64); 6] =
    [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 7 * 86_400_000)];
const FORMS: &str = "write e.g. 90s, 15m, 2h, 1h30m or 7d (units ms, s, m, h, d, w)";

impl FromStr for ConfigDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.is_empty() {
            return Err(format!("a duration is needed; {FORMS}"));
        }
        if text.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!("a duration needs a unit, for example `{text}s`"));
        }
        let mut ms: u64 = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            let unit_end = rest[digits..].find(|c: char| c.is_ascii_digit()).map_or(rest.len(), |i| digits + i);
            let (number, unit) = (&rest[..digits], &rest[digits..unit_end]);
            let factor = UNITS.iter().find(|(name, _)| *name == unit).map(|(_, f)| *f);
            let (Ok(n), Some(factor)) = (number.parse::<u64>(), factor) else {
                return Err(format!("invalid duration `{text}`; {FORMS}"));
            };
            ms = n
                .checked_mul(factor)
                .and_then(|part| ms.checked_add(part))
                .ok_or_else(|| format!("duration `{text}` is too long"))?;
            rest = &rest[unit_end..];
        }
        Ok(ConfigDuration(Duration::from_millis(ms)))
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
        s.serialize_str(&exact(self.0))
    }
}

/// A duration as it is written back: every unit down to the millisecond (`1h30m`, `1500ms`).
fn exact(d: Duration) -> String {
    let mut left = d.as_millis() as u64;
    let mut out = String::new();
    for (unit, factor) in UNITS.iter().rev().filter(|(u, _)| *u != "w") {
        if left >= *factor {
            out.push_str(&format!("{}{unit}", left / factor));
            left %= factor;
        }
    }
    if out.is_empty() {
        "0s".into()
    } else {
        out
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
        assert_eq!("20".parse::<ConfigDuration>().unwrap_err(), "a duration needs a unit, for example `20s`");
        for wrong in ["20 s", "1h 30m", "2hours", "1.5h", "-5m", "m"] {
            assert!(wrong.parse::<ConfigDuration>().is_err(), "{wrong}");
        }
        assert_eq!("1500ms".parse::<ConfigDuration>().unwrap().0.as_millis(), 1500);
        assert_eq!("2w".parse::<ConfigDuration>().unwrap().0.as_secs(), 14 * 86_400);
    }

    #[test]
    fn written_back_as_read() {
        for text in ["90s", "1h30m", "7d", "1500ms", "0s"] {
            let d: ConfigDuration = text.parse().unwrap();
            let back: ConfigDuration = serde_json::from_value(serde_json::to_value(d).unwrap()).unwrap();
            assert_eq!(back, d, "{text}");
        }
    }

    #[test]
    fn formats_for_people() {
        for (secs, text) in [(0, "0s"), (45, "45s"), (90, "1m30s"), (5520, "1h32m"), (90_061, "1d1h1m")] {
            assert_eq!(format_duration(Duration::from_secs(secs)), text);
        }
    }
}
