//! Leaf helpers: plain text for people (control characters made harmless, aligned tables), and
//! the one stable hash of the crate.

/// Server-provided text with control characters replaced, so that a hostile job id or
/// username cannot move the cursor or forge lines on an administrator's terminal.
pub fn printable(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// A table cell: printable and capped at `max` characters.
pub fn cell(text: &str, max: usize) -> String {
    printable(text).chars().take(max).collect()
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

/// A fast, stable (same build, same process and across restarts) 64-bit hash: FxHash.
pub fn fx_hash(value: impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(value)
}
