//! nbwarden's YAML: a document read into a tree with locations (`tree`), `${VAR}` interpolated in
//! every scalar (`interpolate`), then deserialized into the serde types (`de`), with every
//! mistake found in one pass: each error is located, its value set aside, and the rest read again.
//! Every YAML call of the program goes through here.

pub mod de;
mod interpolate;
pub mod tree;

pub use interpolate::{expand, Environment, Process};
pub use tree::{At, Node, Value};

use de::{Kind, Step};
use std::fmt;

/// A mistake, with where it was made (line 0 when it concerns the whole file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub at: At,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Problem {
    /// A problem at `at`.
    pub fn at(at: At, message: impl Into<String>) -> Problem {
        Problem { at, message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at.line {
            0 => f.write_str(&self.message),
            line => write!(f, "{line}:{}: {}", self.at.column, self.message),
        }
    }
}

/// Parses and interpolates `text` from the process environment.
pub fn document(text: &str) -> Result<Node, Vec<Problem>> {
    match read(text)? {
        (node, problems) if problems.is_empty() => Ok(node),
        (_, problems) => Err(problems),
    }
}

/// Parses and interpolates `text`, going on past a variable that cannot be interpolated (its
/// scalar stays as written): the tree, and the variables' problems. Only YAML that cannot be
/// parsed is an error here.
pub fn read(text: &str) -> Result<(Node, Vec<Problem>), Vec<Problem>> {
    let mut node = tree::parse(text).map_err(|p| vec![hint_flow_variable(text, p)])?;
    let problems = interpolate::interpolate(&mut node, &Process);
    Ok((node, problems))
}

/// Reads `text` as a `T`: every problem of the document, each located.
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Vec<Problem>> {
    deserialize_all(document(text)?)
}

/// Reads `text` as a `T` as it is written, `${VAR}` left alone (documents meant for other
/// programs, such as Kubernetes manifests that carry nbwarden's own configuration).
pub fn from_str_as_written<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Vec<Problem>> {
    deserialize_all(tree::parse(text).map_err(|p| vec![p])?)
}

/// A `${VAR}` written plain inside `{ }` or `[ ]` breaks the YAML there: say how to write it.
fn hint_flow_variable(text: &str, mut problem: Problem) -> Problem {
    let line = text.lines().nth(problem.at.line.saturating_sub(1) as usize).unwrap_or_default();
    if line.contains("${") && (line.contains('{') || line.contains('[')) {
        problem.message.push_str("; inside { } or [ ], write a variable in quotes: \"${NAME}\"");
    }
    problem
}

/// The most mistakes looked for in one document.
const MOST_PROBLEMS: usize = 100;

/// Deserializes `node` as a `T`, every mistake at once.
pub fn deserialize_all<T: serde::de::DeserializeOwned>(node: Node) -> Result<T, Vec<Problem>> {
    match deserialize_partial(node) {
        (Some(value), problems) if problems.is_empty() => Ok(value),
        (_, problems) => Err(problems),
    }
}

/// Deserializes `node` as a `T`, finding every mistake: after each one, the key concerned is set
/// aside (an unknown word is replaced by a valid one) and the document read again, so that one run
/// of `check` lists them all. Returns the value read from what was left, when it could be (so that
/// further checks can run on it), and the mistakes. A required key that is missing ends the search.
pub fn deserialize_partial<T: serde::de::DeserializeOwned>(mut node: Node) -> (Option<T>, Vec<Problem>) {
    let mut problems: Vec<Problem> = Vec::new();
    let mut set_aside: Vec<Vec<Step>> = Vec::new();
    while problems.len() < MOST_PROBLEMS {
        let error = match T::deserialize(de::Deserializer(&node)) {
            Ok(value) => return (Some(value), problems),
            Err(error) => error,
        };
        if let Kind::Missing { field } = &error.kind {
            let removed = [error.path.clone(), vec![Step::Key(field.clone())]].concat();
            if set_aside.contains(&removed) {
                break;
            }
        }
        problems.push(Problem::at(error.at.unwrap_or_default(), located_message(&error)));
        let replacement = match &error.kind {
            Kind::UnknownWord { expected } => expected.first().map(|w| w.to_string()),
            _ => None,
        };
        if matches!(error.kind, Kind::Missing { .. }) || !set_apart(&mut node, &error.path, replacement) {
            break;
        }
        set_aside.push(error.path);
    }
    (None, problems)
}

/// The message with the key it concerns named.
fn located_message(error: &de::Error) -> String {
    let keys: Vec<&str> =
        error.path.iter().filter_map(|s| if let Step::Key(k) = s { Some(k.as_str()) } else { None }).collect();
    match (&error.kind, keys.as_slice()) {
        (Kind::UnknownKey { .. }, [.., parent, _]) => format!("{} (in `{parent}`)", error.message),
        (Kind::UnknownKey { .. }, _) | (_, []) => error.message.clone(),
        (Kind::Missing { .. }, _) => format!("`{}`: {}", keys.join("."), error.message),
        (_, [.., key]) => format!("`{key}`: {}", error.message),
    }
}

/// Removes (or, with `replacement`, rewrites) the node at `path`; false when there is none.
fn set_apart(node: &mut Node, path: &[Step], replacement: Option<String>) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut current = node;
    for step in parents {
        current = match (&mut current.value, step) {
            (Value::Map(entries), Step::Key(key)) => match entries.iter_mut().find(|(k, _)| k.text() == Some(key)) {
                Some((_, value)) => value,
                None => return false,
            },
            (Value::Seq(items), Step::Index(i)) if *i < items.len() => &mut items[*i],
            _ => return false,
        };
    }
    match (&mut current.value, last, replacement) {
        (Value::Map(entries), Step::Key(key), Some(word)) => {
            match entries.iter_mut().find(|(k, _)| k.text() == Some(key)) {
                Some((_, value)) => {
                    value.value = Value::Scalar { text: word, plain: false };
                    true
                }
                None => false,
            }
        }
        (Value::Map(entries), Step::Key(key), None) => {
            let before = entries.len();
            entries.retain(|(k, _)| k.text() != Some(key));
            entries.len() < before
        }
        (Value::Seq(items), Step::Index(i), _) if *i < items.len() => {
            items.remove(*i);
            true
        }
        _ => false,
    }
}

/// The keys a struct type takes, as its serde derive lists them (to hold examples to the types).
pub fn keys_of<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    let key = Node { value: Value::Scalar { text: "\u{0}".into(), plain: false }, at: At::default() };
    let probe =
        Node { value: Value::Map(vec![(key, Node { value: Value::Null, at: At::default() })]), at: At::default() };
    match T::deserialize(de::Deserializer(&probe)) {
        Err(de::Error { kind: Kind::UnknownKey { expected, .. }, .. }) => expected,
        _ => &[],
    }
}

/// A node as JSON (the rule compiler works on JSON values): plain scalars typed as YAML types
/// them, everything else text.
pub fn to_json(node: &Node) -> serde_json::Value {
    serde::Deserialize::deserialize(de::Deserializer(node)).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests;
