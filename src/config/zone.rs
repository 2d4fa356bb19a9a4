//! Time zones as the configuration and rules write them (`Europe/Berlin`): an unknown one gets the
//! nearest real name.

use serde::{Deserialize, Deserializer};

/// A configured time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(pub chrono_tz::Tz);

/// A zone name the tz database does not know, with the nearest one or an example.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone `{name}` ({hint})")]
pub struct UnknownZone {
    /// As written.
    pub name: String,
    /// `did you mean …?`, or an example.
    pub hint: String,
}

/// Reads a zone name: exact, else the nearest name of the database in the error.
pub fn parse_zone(name: &str) -> Result<chrono_tz::Tz, UnknownZone> {
    if let Ok(zone) = name.parse::<chrono_tz::Tz>() {
        return Ok(zone);
    }
    let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
    let folded = names.iter().find(|n| n.eq_ignore_ascii_case(name)).copied();
    let hint = match folded.or_else(|| crate::text::nearest(name, &names)) {
        Some(nearest) => format!("did you mean `{nearest}`?"),
        None => "write a name of the tz database, e.g. Europe/Berlin or UTC".into(),
    };
    Err(UnknownZone { name: name.into(), hint })
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        parse_zone(name.trim()).map(Zone).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_zone_gets_the_nearest_name() {
        assert_eq!(parse_zone("Europe/Berlin"), Ok(chrono_tz::Europe::Berlin));
        assert!(parse_zone("Europe/Berln").unwrap_err().to_string().contains("did you mean `Europe/Berlin`?"));
        assert!(parse_zone("europe/berlin").unwrap_err().to_string().contains("did you mean `Europe/Berlin`?"));
        assert!(parse_zone("Atlantis/Capital").unwrap_err().to_string().contains("e.g. Europe/Berlin"));
    }
}
