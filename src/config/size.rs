//! Sizes written as `256MiB`, `1GiB`, `64KiB`, `500MB` or a number of bytes.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A configured number of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

/// The units, longest first so that `MiB` is not read as `M` + `iB`.
const UNITS: [(&str, u64); 9] = [
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("k", 1_000),
    ("B", 1),
    ("", 1),
];

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (number, unit) = text.split_at(digits);
        let unit = unit.trim();
        let factor = UNITS.iter().find(|(name, _)| *name == unit).map(|(_, f)| *f);
        match (number.parse::<u64>(), factor) {
            (Ok(n), Some(factor)) => {
                n.checked_mul(factor).map(ByteSize).ok_or_else(|| format!("size `{text}` is too large"))
            }
            _ => Err(format!("invalid size `{text}`; write e.g. 256MiB, 1GiB, 64KiB or 500MB")),
        }
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        match UNITS[..3].iter().rev().find(|(_, factor)| n >= *factor && n.is_multiple_of(*factor)) {
            Some((unit, factor)) => write!(f, "{}{unit}", n / factor),
            None => write!(f, "{n} bytes"),
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Size;
        impl de::Visitor<'_> for Size {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as 256MiB")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v).map(ByteSize).map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_any(Size)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_sizes() {
        for (text, bytes, shown) in [
            ("256MiB", 256 << 20, "256MiB"),
            ("1GiB", 1 << 30, "1GiB"),
            ("64 KiB", 64 << 10, "64KiB"),
            ("500MB", 500_000_000, "500000000 bytes"),
            ("1024", 1024, "1KiB"),
        ] {
            let size: ByteSize = text.parse().unwrap();
            assert_eq!((size.0, size.to_string().as_str()), (bytes, shown), "{text}");
        }
        assert!("12 parsecs".parse::<ByteSize>().unwrap_err().contains("256MiB"));
        assert!("99999999999GiB".parse::<ByteSize>().is_err());
    }
}
