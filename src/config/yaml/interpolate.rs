//! `${VAR}` and `${VAR:-default}` in every scalar, whatever its style (SPEC §2): an unset
//! variable without a default, and a `${` that starts no variable, are problems located at the
//! scalar; `$${` writes a literal `${`. Every value taken from the environment is remembered as a
//! possible secret (`secret::remember`), so that no error or argument shown echoes it.

use super::tree::{Node, Value};
use super::Problem;

/// Where variables come from (the process environment, or a map in tests).
pub trait Environment {
    /// The variable's value, when set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct Process;

impl Environment for Process {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Environment for std::collections::HashMap<&str, &str> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| v.to_string())
    }
}

/// Interpolates every scalar of `node` (keys too); returns every problem found.
pub fn interpolate(node: &mut Node, env: &dyn Environment) -> Vec<Problem> {
    let mut problems = Vec::new();
    visit(node, None, env, &mut problems);
    problems
}

/// Interpolates `node`, the value of `key` when it has one (named in its problems).
fn visit(node: &mut Node, key: Option<&str>, env: &dyn Environment, problems: &mut Vec<Problem>) {
    match &mut node.value {
        Value::Scalar { text, .. } if text.contains('$') => match expand(text, env) {
            Ok(expanded) => *text = expanded,
            Err(why) => problems.push(Problem::at(node.at, named(key, why.to_string()))),
        },
        Value::Seq(items) => items.iter_mut().for_each(|n| visit(n, key, env, problems)),
        Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            visit(k, None, env, problems);
            visit(v, k.text(), env, problems);
        }),
        _ => {}
    }
}

/// `message` about the value of `key`, which it names.
fn named(key: Option<&str>, message: String) -> String {
    match key {
        Some(key) => format!("`{key}`: {message}"),
        None => message,
    }
}

/// Why a `${…}` cannot be replaced.
#[derive(Debug, thiserror::Error)]
pub enum Unresolved {
    /// `${` without its `}` (the excerpt).
    #[error("`{0}` starts a variable but has no `}}`; write ${{NAME}}, or $${{ for a literal `${{`")]
    Unclosed(String),
    /// Not `NAME` or `NAME:-default` (the excerpt).
    #[error("`${{{0}}}` is not a variable reference; write ${{NAME}} or ${{NAME:-default}} (letters, digits and _), or $${{ for a literal `${{`")]
    NotAReference(String),
    /// The variable is not set and has no default.
    #[error("environment variable {0} is not set (export it, or write ${{{0}:-default}})")]
    NotSet(String),
}

/// `text` with its variables replaced, or why it cannot be.
pub fn expand(text: &str, env: &dyn Environment) -> Result<String, Unresolved> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        if let Some(literal) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = literal;
            continue;
        }
        let Some(body) = after.strip_prefix("${") else {
            out.push('$');
            rest = &after[1..];
            continue;
        };
        let Some(end) = body.find('}') else {
            return Err(Unresolved::Unclosed(shown(after)));
        };
        let reference = &body[..end];
        out.push_str(&resolve(reference, env)?);
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of `NAME` or `NAME:-default`.
fn resolve(reference: &str, env: &dyn Environment) -> Result<String, Unresolved> {
    let (name, default) = match reference.split_once(":-") {
        Some((name, default)) => (name, Some(default)),
        None => (reference, None),
    };
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(Unresolved::NotAReference(shown(reference)));
    }
    match (env.var(name), default) {
        (Some(value), Some(default)) if value.is_empty() => Ok(default.to_string()),
        (Some(value), _) => {
            crate::secret::remember(&value);
            Ok(value)
        }
        (None, Some(default)) => Ok(default.to_string()),
        (None, None) => Err(Unresolved::NotSet(name.into())),
    }
}

/// A short, printable excerpt of a reference for a message.
fn shown(text: &str) -> String {
    crate::text::sanitize_to(text, 40).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn variables_defaults_and_literals() {
        let env: HashMap<&str, &str> = [("PW", "s3cret"), ("EMPTY", "")].into();
        let table = [
            ("${PW}", "s3cret"),
            ("pre-${PW}-post", "pre-s3cret-post"),
            ("${NOPE:-fallback}", "fallback"),
            ("${EMPTY:-fallback}", "fallback"),
            ("$${PW} stays", "${PW} stays"),
            ("cost: $5", "cost: $5"),
            ("${PW}${PW}", "s3crets3cret"),
        ];
        for (text, expanded) in table {
            assert_eq!(expand(text, &env).unwrap(), expanded, "{text}");
        }
        assert!(expand("${NOPE}", &env).unwrap_err().to_string().contains("NOPE is not set"));
        assert!(expand("${PW", &env).unwrap_err().to_string().contains("has no `}`"));
        assert!(expand("${P W}", &env).unwrap_err().to_string().contains("is not a variable reference"));
    }

    #[test]
    fn every_scalar_style_is_interpolated_and_problems_are_located() {
        let env: HashMap<&str, &str> = [("PW", "s3cret")].into();
        let text = "plain: ${PW}\nsingle: '${PW}'\ndouble: \"${PW}\"\nblock: |\n  ${PW}\nflow: { a: \"${PW}\" }\nbad: ${NOPE}\n";
        let mut doc = super::super::tree::parse(text).unwrap();
        let problems = interpolate(&mut doc, &env);
        for key in ["plain", "single", "double"] {
            assert_eq!(doc.get(key).unwrap().text(), Some("s3cret"), "{key}");
        }
        assert_eq!(doc.get("block").unwrap().text(), Some("s3cret\n"));
        assert_eq!(doc.get("flow").unwrap().get("a").unwrap().text(), Some("s3cret"));
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].to_string().starts_with("7:6: `bad`: environment variable NOPE is not set"),
            "{}",
            problems[0]
        );
    }
}
