//! A YAML document as a tree of nodes, each with where it was written and, for scalars, how it
//! was written (plain, quoted, block): what serde alone cannot keep (built from granit-parser's
//! events, the parser serde-saphyr uses).

use super::Problem;
use granit_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// Where a node starts: 1-based line and column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct At {
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
}

/// One node of the document.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What it holds.
    pub value: Value,
    /// Where it starts.
    pub at: At,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An empty value (`key:` with nothing, `~`, `null`) or an absent document.
    Null,
    /// Text, with how it was written.
    Scalar {
        /// The text after YAML's escapes (and after `${VAR}`, once interpolated).
        text: String,
        /// Written plain (so `20`, `true`, `null` are typed), not quoted or as a block.
        plain: bool,
    },
    /// `- a` or `[a, b]`.
    Seq(Vec<Node>),
    /// `k: v` or `{k: v}`, in document order; keys are scalars.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The text of a scalar key or value.
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The value under `key`, when this is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|(k, _)| k.text() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Every node of the tree, this one first.
    pub fn walk(&self, visit: &mut impl FnMut(&Node)) {
        visit(self);
        match &self.value {
            Value::Seq(items) => items.iter().for_each(|n| n.walk(visit)),
            Value::Map(entries) => entries.iter().for_each(|(k, v)| {
                k.walk(visit);
                v.walk(visit)
            }),
            _ => {}
        }
    }
}

/// Aliases may copy at most this many nodes in one document (against "billion laughs").
const MAX_NODES: usize = 200_000;
/// Collections nest at most this deep (every reader of the tree recurses).
const MAX_DEPTH: usize = 64;

/// Parses `text`: one document (an empty text is `Null`); duplicate keys, several documents,
/// tags other than `!!str` and runaway aliases are problems.
pub fn parse(text: &str) -> Result<Node, Problem> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            let marker = e.marker();
            Problem::at(At { line: marker.line() as u64, column: marker.col() as u64 + 1 }, e.info())
        })?;
        let at = At { line: span.start.line() as u64, column: span.start.col() as u64 + 1 };
        builder.event(event, at)?;
    }
    Ok(builder.done.unwrap_or(Node { value: Value::Null, at: At { line: 1, column: 1 } }))
}

#[derive(Default)]
struct Builder {
    /// Open collections, innermost last: the node and, for a mapping, a key waiting for its value.
    open: Vec<(Node, Option<Node>, usize)>,
    anchors: HashMap<usize, Node>,
    documents: u32,
    nodes: usize,
    done: Option<Node>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, at: At) -> Result<(), Problem> {
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(Problem::at(at, "only one YAML document is read; remove the `---` and what follows"));
                }
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                let forced_text = match tag {
                    Some(tag) if tag.is_yaml_core_schema_tag("str") => true,
                    Some(tag) => {
                        return Err(Problem::at(at, format!("YAML tags are not used here (`{tag}`); remove it")))
                    }
                    None => false,
                };
                let plain = style == ScalarStyle::Plain && !forced_text;
                let value = match plain && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL") {
                    true => Value::Null,
                    false => Value::Scalar { text: text.into_owned(), plain },
                };
                self.add(Node { value, at }, anchor)
            }
            Event::SequenceStart(_, anchor, _) => self.open(Node { value: Value::Seq(Vec::new()), at }, anchor),
            Event::MappingStart(_, anchor, _) => self.open(Node { value: Value::Map(Vec::new()), at }, anchor),
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, _, anchor) = self.open.pop().expect("a collection was open");
                self.add(node, anchor)
            }
            Event::Alias(id) => {
                let node =
                    self.anchors.get(&id).cloned().ok_or_else(|| Problem::at(at, "an alias to an unknown anchor"))?;
                let mut size = 0;
                node.walk(&mut |_| size += 1);
                self.nodes += size;
                if self.nodes > MAX_NODES {
                    return Err(Problem::at(at, "the aliases expand to too many values"));
                }
                self.add(node, 0)
            }
            Event::UnresolvedAlias(name) => Err(Problem::at(at, format!("alias *{name} names no anchor before it"))),
            _ => Ok(()),
        }
    }

    fn open(&mut self, node: Node, anchor: usize) -> Result<(), Problem> {
        if self.open.len() >= MAX_DEPTH {
            return Err(Problem::at(node.at, format!("values nest deeper than {MAX_DEPTH} levels")));
        }
        self.open.push((node, None, anchor));
        Ok(())
    }

    /// Puts a finished node in its collection (a sequence's item, a mapping's key or value), or
    /// makes it the document.
    fn add(&mut self, node: Node, anchor: usize) -> Result<(), Problem> {
        self.nodes += 1;
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let Some((parent, pending_key, _)) = self.open.last_mut() else {
            self.done = Some(node);
            return Ok(());
        };
        match (&mut parent.value, pending_key.take()) {
            (Value::Seq(items), _) => items.push(node),
            (Value::Map(_), None) if node.text().is_none() && node.value != Value::Null => {
                return Err(Problem::at(node.at, "a mapping key must be text"));
            }
            (Value::Map(_), None) => *pending_key = Some(node),
            (Value::Map(entries), Some(key)) => {
                let name = key.text().unwrap_or_default().to_string();
                if let Some((first, _)) = entries.iter().find(|(k, _)| k.text() == Some(&name)) {
                    let line = first.at.line;
                    return Err(Problem::at(
                        key.at,
                        format!("`{name}` is given twice (first on line {line}); keep one"),
                    ));
                }
                entries.push((key, node));
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_know_where_and_how_they_were_written() {
        let doc = parse("a: 1\nb: \"2\"\nc:\n  - x\n  - { d: ~ }\ne: |\n  text\n").unwrap();
        let a = doc.get("a").unwrap();
        assert_eq!(
            (a.at, a.value.clone()),
            (At { line: 1, column: 4 }, Value::Scalar { text: "1".into(), plain: true })
        );
        assert_eq!(doc.get("b").unwrap().value, Value::Scalar { text: "2".into(), plain: false });
        let Value::Seq(items) = &doc.get("c").unwrap().value else { panic!() };
        assert_eq!(items[1].get("d").unwrap().value, Value::Null);
        assert_eq!(items[1].at.line, 5);
        assert_eq!(doc.get("e").unwrap().text(), Some("text\n"));
    }

    #[test]
    fn duplicates_tags_documents_and_bombs_are_refused() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err().to_string();
        assert!(err.contains("3:1: `a` is given twice (first on line 1)"), "{err}");
        assert!(parse("a: !!binary aGk=\n").unwrap_err().to_string().contains("YAML tags"));
        assert!(parse("a: 1\n---\nb: 2\n").unwrap_err().to_string().contains("one YAML document"));
        assert_eq!(
            parse("a: !!str 20\n").unwrap().get("a").unwrap().value,
            Value::Scalar { text: "20".into(), plain: false }
        );
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            bomb.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
                p = i - 1
            ));
        }
        assert!(parse(&bomb).unwrap_err().to_string().contains("too many"));
        assert_eq!(parse("").unwrap().value, Value::Null);
        assert!(parse(&format!("{}x{}", "[".repeat(100), "]".repeat(100)))
            .unwrap_err()
            .to_string()
            .contains("nest deeper"));
    }
}
