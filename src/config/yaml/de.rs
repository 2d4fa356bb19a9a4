//! serde over the tree: a value's type comes from what the target type asks for (`port: "587"`
//! is a number when a number is wanted, `name: 007` text when text is), plain scalars are typed
//! as YAML 1.2 when anything will do; every error carries where it happened and its path, so that
//! `load_all` can report it, set the value aside, and look for the next one.

use super::tree::{At, Node, Value};
use serde::de::{self, DeserializeSeed, Error as _, IntoDeserializer, Visitor};
use std::fmt;

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A mapping's key.
    Key(String),
    /// A sequence's position.
    Index(usize),
}

/// What kind of mistake an error is, so that loading can go on after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A key the type does not have: the nearest valid one is suggested.
    UnknownKey {
        /// The key as written.
        key: String,
        /// The valid keys.
        expected: &'static [&'static str],
    },
    /// A value that is not one of the words allowed.
    UnknownWord {
        /// The allowed words.
        expected: &'static [&'static str],
    },
    /// A required key that is not given.
    Missing {
        /// The key.
        field: String,
    },
    /// Anything else about a value.
    Value,
}

/// A deserialization error with where it happened.
#[derive(Debug, Clone)]
pub struct Error {
    /// What is wrong.
    pub message: String,
    /// Where (the innermost node it concerns).
    pub at: Option<At>,
    /// From the document's root to the node concerned.
    pub path: Vec<Step>,
    /// What kind of mistake.
    pub kind: Kind,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Error {
        Error { message: message.to_string(), at: None, path: Vec::new(), kind: Kind::Value }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Error {
        let hint = crate::text::nearest(field, expected).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
        let valid = if expected.is_empty() { "none".to_string() } else { expected.join(", ") };
        Error {
            message: format!("unknown key `{field}`{hint}; valid keys: {valid}"),
            kind: Kind::UnknownKey { key: field.to_string(), expected },
            ..Error::custom("")
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Error {
        let hint =
            crate::text::nearest(variant, expected).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
        Error {
            message: format!("`{variant}` is not one of {}{hint}", expected.join(", ")),
            kind: Kind::UnknownWord { expected },
            ..Error::custom("")
        }
    }

    fn missing_field(field: &'static str) -> Error {
        let kind = Kind::Missing { field: field.to_string() };
        Error { message: format!("`{field}` is required here"), kind, ..Error::custom("") }
    }

    fn invalid_type(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Error {
        Error::custom(format!("expected {expected}, found {}", unexpected_text(&unexpected)))
    }
}

/// How a wrong value is named: its text, never its type's name alone.
fn unexpected_text(unexpected: &de::Unexpected<'_>) -> String {
    match unexpected {
        de::Unexpected::Str(s) => format!("`{s}`"),
        de::Unexpected::Seq => "a list".into(),
        de::Unexpected::Map => "a mapping".into(),
        de::Unexpected::Unit => "nothing".into(),
        other => other.to_string(),
    }
}

impl Error {
    /// Adds the step to the path (errors rise from the innermost node), and `at` when unknown.
    fn within(mut self, step: Step, at: At) -> Error {
        self.path.insert(0, step);
        self.at.get_or_insert(at);
        self
    }
}

/// The deserializer of one node.
pub struct Deserializer<'a>(pub &'a Node);

impl<'a> Deserializer<'a> {
    fn text(&self) -> Result<&'a str, Error> {
        match &self.0.value {
            Value::Scalar { text, .. } => Ok(text),
            Value::Null => Err(Error::custom("a value is needed here")),
            Value::Seq(_) => Err(Error::custom("expected a single value, found a list")),
            Value::Map(_) => Err(Error::custom("expected a single value, found a mapping")),
        }
    }

    fn number<T: std::str::FromStr>(&self, what: &str) -> Result<T, Error> {
        let text = self.text()?;
        text.trim().replace('_', "").parse().map_err(|_| Error::custom(format!("expected {what}, found `{text}`")))
    }
}

macro_rules! numbers {
    ($($method:ident $visit:ident $ty:ty, $what:literal;)*) => {
        $(fn $method<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.$visit(self.number::<$ty>($what)?)
        })*
    };
}

impl<'a> de::Deserializer<'a> for Deserializer<'a> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.0.value {
            Value::Null => visitor.visit_unit(),
            Value::Scalar { text, plain: true } => typed(text, visitor),
            Value::Scalar { text, plain: false } => visitor.visit_borrowed_str(text),
            Value::Seq(items) => visitor.visit_seq(Items { items: items.iter(), next: 0 }),
            Value::Map(entries) => visitor.visit_map(Entries { entries: entries.iter(), value: None }),
        }
    }

    fn deserialize_bool<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.text()?.to_ascii_lowercase().as_str() {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            _ => Err(Error::custom(format!("expected true or false, found `{}`", self.text()?))),
        }
    }

    numbers! {
        deserialize_i8 visit_i8 i8, "a whole number";
        deserialize_i16 visit_i16 i16, "a whole number";
        deserialize_i32 visit_i32 i32, "a whole number";
        deserialize_i64 visit_i64 i64, "a whole number";
        deserialize_u8 visit_u8 u8, "a whole number from 0 to 255";
        deserialize_u16 visit_u16 u16, "a whole number from 0 to 65535";
        deserialize_u32 visit_u32 u32, "a whole number from 0";
        deserialize_u64 visit_u64 u64, "a whole number from 0";
        deserialize_f32 visit_f32 f32, "a number";
        deserialize_f64 visit_f64 f64, "a number";
    }

    fn deserialize_str<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.0.value {
            Value::Scalar { text, .. } => visitor.visit_borrowed_str(text),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'a>>(self, _: &'static str, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'a>>(self, _: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.0.value {
            Value::Seq(items) => visitor.visit_seq(Items { items: items.iter(), next: 0 }),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'a>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'a>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.0.value {
            Value::Map(entries) => visitor.visit_map(Entries { entries: entries.iter(), value: None }),
            // `http:` with nothing after it: every key at its default.
            Value::Null => visitor.visit_map(Entries { entries: [].iter(), value: None }),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'a>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'a>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match &self.0.value {
            Value::Scalar { text, .. } => visitor.visit_enum(text.as_str().into_deserializer()),
            Value::Map(entries) if entries.len() == 1 => visitor.visit_enum(Variant(&entries[0].0, &entries[0].1)),
            _ => Err(Error::custom("expected one of its words")),
        }
    }

    fn deserialize_identifier<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// A plain scalar as YAML 1.2's core schema types it: booleans, integers, floats, else text.
fn typed<'a, V: Visitor<'a>>(text: &'a str, visitor: V) -> Result<V::Value, Error> {
    match text {
        "true" | "True" | "TRUE" => return visitor.visit_bool(true),
        "false" | "False" | "FALSE" => return visitor.visit_bool(false),
        _ => {}
    }
    let integer = |t: &str| t.chars().enumerate().all(|(i, c)| c.is_ascii_digit() || i == 0 && matches!(c, '-' | '+'));
    if integer(text) && text.chars().any(|c| c.is_ascii_digit()) {
        if let Ok(n) = text.parse::<i64>() {
            return visitor.visit_i64(n);
        }
        if let Ok(n) = text.trim_start_matches('+').parse::<u64>() {
            return visitor.visit_u64(n);
        }
    }
    let float =
        text.chars().any(|c| c.is_ascii_digit()) && text.chars().all(|c| c.is_ascii_digit() || ".-+eE".contains(c));
    match text.parse::<f64>() {
        Ok(f) if float => visitor.visit_f64(f),
        _ => visitor.visit_borrowed_str(text),
    }
}

struct Items<'a> {
    items: std::slice::Iter<'a, Node>,
    next: usize,
}

impl<'a> de::SeqAccess<'a> for Items<'a> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'a>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        let Some(item) = self.items.next() else { return Ok(None) };
        let index = self.next;
        self.next += 1;
        seed.deserialize(Deserializer(item)).map(Some).map_err(|e| e.within(Step::Index(index), item.at))
    }
}

struct Entries<'a> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<(&'a Node, &'a Node)>,
}

impl<'a> de::MapAccess<'a> for Entries<'a> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'a>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else { return Ok(None) };
        self.value = Some((key, value));
        let name = key.text().unwrap_or_default().to_string();
        seed.deserialize(Deserializer(key)).map(Some).map_err(|e| e.within(Step::Key(name), key.at))
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (key, value) = self.value.take().expect("a key before its value");
        let name = key.text().unwrap_or_default().to_string();
        seed.deserialize(Deserializer(value)).map_err(|e| {
            // `key:` with nothing after it is at the key, not at the next line.
            let at = if value.value == Value::Null { key.at } else { value.at };
            e.within(Step::Key(name), at)
        })
    }
}

/// `{ variant: content }`.
struct Variant<'a>(&'a Node, &'a Node);

impl<'a> de::EnumAccess<'a> for Variant<'a> {
    type Error = Error;
    type Variant = Deserializer<'a>;

    fn variant_seed<V: DeserializeSeed<'a>>(self, seed: V) -> Result<(V::Value, Deserializer<'a>), Error> {
        Ok((seed.deserialize(Deserializer(self.0))?, Deserializer(self.1)))
    }
}

impl<'a> de::VariantAccess<'a> for Deserializer<'a> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'a>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'a>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'a>>(self, _: &'static [&'static str], visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}
