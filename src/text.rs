//! Leaf helpers: site text made safe for people and logs (control and bidi characters escaped,
//! cut at 2 kB), aligned tables, spreadsheet-safe cells, and the one stable hash of the crate.

use std::borrow::Cow;
use std::fmt::Write;

/// The most site text written at once for a person or a log, in bytes.
pub const SITE_TEXT_MAX: usize = 2048;

/// Text from a site made safe to write for a person or a log (SPEC §4.19). Control characters
/// (`\n`, `\r`, ESC, …) and the invisible characters that reorder or hide text (bidi overrides,
/// zero-width marks) are written as visible escapes (`\n`, `\u{1b}`, `\u{202e}`), so that a job
/// id or an error message cannot move the cursor, forge a log line or disguise itself; text over
/// 2 kB is cut, saying how much was left out.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    sanitize_to(text, SITE_TEXT_MAX)
}

/// [`sanitize`] with another length limit (bytes, before the note of what was cut).
pub fn sanitize_to(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max && !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(max) + 32);
    for (at, c) in text.char_indices() {
        if out.len() >= max {
            let _ = write!(out, "… ({} more bytes)", text.len() - at);
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Control characters, and the format characters that change how the text around them shows:
/// the bidi embeddings, overrides, isolates and marks, and the zero-width ones.
fn needs_escape(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// A JSON document with the invisible format characters written as `\uXXXX` escapes: the same
/// value for a program, and nothing that reorders a terminal line for a person (serde_json already
/// escapes control characters).
pub fn json_safe(json: String) -> String {
    if !json.chars().any(is_invisible_format) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        match is_invisible_format(c) {
            true => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            false => out.push(c),
        }
    }
    out
}

/// A table cell: sanitized and capped at `max` characters.
pub fn cell(text: &str, max: usize) -> String {
    sanitize(text).chars().take(max).collect()
}

/// A spreadsheet cell that cannot run as a formula: text starting with `=`, `+`, `-`, `@`, a tab
/// or a carriage return gets a leading `'` (OWASP's advice against CSV injection).
pub fn spreadsheet_cell(text: &str) -> Cow<'_, str> {
    match text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        true => Cow::Owned(format!("'{text}")),
        false => Cow::Borrowed(text),
    }
}

/// Rows (the first one the header) aligned in columns two spaces apart.
pub fn aligned<const N: usize>(lines: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N).map(|c| lines.iter().map(|l| l[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for line in lines {
        let cells: Vec<String> = line.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The allowed word closest to `word`, if it is close enough to be a typo.
pub fn nearest<'a>(word: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(word, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 4))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// A fast, stable (same build, same process and across restarts) 64-bit hash: FxHash.
pub fn fx_hash(value: impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_text_is_escaped_and_cut() {
        let table = [
            ("plain", "plain"),
            ("a\r\nForged: line", "a\\r\\nForged: line"),
            ("\u{1b}[31mred", "\\u{1b}[31mred"),
            ("invoice\u{202e}fdp.exe", "invoice\\u{202e}fdp.exe"),
            ("zero\u{200b}width", "zero\\u{200b}width"),
            ("tab\there", "tab\\there"),
            ("naïve café", "naïve café"),
        ];
        for (raw, shown) in table {
            assert_eq!(sanitize(raw), shown, "{raw:?}");
        }
        let huge = "x".repeat(10 * 1024 * 1024);
        let cut = sanitize(&huge);
        assert!(cut.len() < SITE_TEXT_MAX + 40, "{}", cut.len());
        assert!(cut.ends_with(&format!("… ({} more bytes)", huge.len() - SITE_TEXT_MAX)), "{}", &cut[2000..]);
        assert!(matches!(sanitize("fine"), Cow::Borrowed(_)), "clean text is not copied");
    }

    #[test]
    fn json_keeps_its_value_without_bidi_characters() {
        let json = serde_json::to_string(&serde_json::json!({ "id": "a\u{202e}b\u{1b}" })).unwrap();
        let safe = json_safe(json);
        assert_eq!(safe, r#"{"id":"a\u202eb\u001b"}"#);
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["id"], "a\u{202e}b\u{1b}");
    }

    #[test]
    fn spreadsheet_cells_never_start_a_formula() {
        for (raw, safe) in
            [("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1", "'+1"), ("@SUM", "'@SUM"), ("joe", "joe")]
        {
            assert_eq!(spreadsheet_cell(raw), safe);
        }
    }
}
