//! A job list body's structure without a parse: where each top-level member's value lies, and
//! where each item of an array lies, so that an item listed in the same bytes as before is not
//! parsed again. It checks only the structure (strings, brackets, commas): every byte it does not
//! check is either parsed by serde_json afterwards or identical to bytes parsed before, and any
//! doubt (`None`) sends the whole body to the full parse, which says what is wrong.

use std::ops::Range;

/// Deeper nesting goes to the full parse, which alone knows how serde_json's depth limit counts
/// the enclosing object and array.
const MAX_DEPTH: usize = 100;

/// A cursor over a body.
pub(super) struct Scanner<'a> {
    body: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner at the body's start.
    pub fn new(body: &'a [u8]) -> Scanner<'a> {
        Scanner { body, pos: 0 }
    }

    /// Skips JSON whitespace.
    pub fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.body.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.body.get(self.pos).copied()
    }

    /// Consumes `byte` after whitespace.
    pub fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// True when only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// The string starting here, quotes included.
    pub fn string(&mut self) -> Option<Range<usize>> {
        (self.peek()? == b'"').then_some(())?;
        let start = self.pos;
        self.pos = string_end(self.body, start + 1)?;
        Some(start..self.pos)
    }

    /// The value starting here, whatever it is (its contents checked later, or known).
    pub fn value(&mut self) -> Option<Range<usize>> {
        match self.peek()? {
            b'"' => self.string(),
            b'{' | b'[' => self.container(),
            _ => self.scalar(),
        }
    }

    /// A number or a literal: up to the next delimiter.
    fn scalar(&mut self) -> Option<Range<usize>> {
        let start = self.pos;
        let rest = &self.body[start..];
        let len = rest.iter().position(|b| matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r'));
        let len = len.unwrap_or(rest.len());
        (len > 0).then_some(())?;
        self.pos += len;
        Some(start..self.pos)
    }

    /// An object or an array, by its brackets: one pass over the bytes, strings skipped.
    fn container(&mut self) -> Option<Range<usize>> {
        let (body, start) = (self.body, self.pos);
        let (mut at, mut depth) = (start, 0usize);
        loop {
            match *body.get(at)? {
                b'"' => {
                    at = string_end(body, at + 1)?;
                    continue;
                }
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return None;
                    }
                }
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos = at + 1;
                        return Some(start..self.pos);
                    }
                }
                _ => {}
            }
            at += 1;
        }
    }

    /// The items of the array starting here, into `items` (emptied first).
    pub fn items(&mut self, items: &mut Vec<Range<usize>>) -> Option<()> {
        items.clear();
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.ws();
            items.push(self.value()?);
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// `null` here, consumed.
    pub fn null(&mut self) -> bool {
        self.ws();
        let found = self.body[self.pos..].starts_with(b"null");
        if found {
            self.pos += 4;
        }
        found
    }
}

/// Just past the closing quote of the string whose contents start at `at`. Strings in a job list
/// are short, so a plain loop beats a vectorised search started afresh for each.
fn string_end(body: &[u8], mut at: usize) -> Option<usize> {
    loop {
        match *body.get(at)? {
            b'"' => return Some(at + 1),
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(body: &str) -> Option<Vec<&str>> {
        let mut scanner = Scanner::new(body.as_bytes());
        let mut ranges = Vec::new();
        scanner.items(&mut ranges)?;
        scanner.at_end().then_some(())?;
        Some(ranges.into_iter().map(|r| &body[r]).collect())
    }

    #[test]
    fn items_are_cut_at_their_own_brackets_and_strings() {
        let body = r#" [ {"a":"x]}\"{"} , [1,[2]] ,"s\\" , 12.5e3,true ,null ] "#;
        assert_eq!(items(body).unwrap(), [r#"{"a":"x]}\"{"}"#, "[1,[2]]", r#""s\\""#, "12.5e3", "true", "null"]);
        assert_eq!(items("[]").unwrap(), Vec::<&str>::new());
        for broken in ["[", "[1,", "[1 2]", "[,]", r#"["abc]"#, "[{]", "1"] {
            assert_eq!(items(broken), None, "{broken}");
        }
        let deep = format!("[{}{}]", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(items(&deep), None, "too deep for the scan");
    }
}
