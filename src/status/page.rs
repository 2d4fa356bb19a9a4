//! The `/status` page for browsers: one self-contained HTML document (no scripts, no external
//! assets), every value HTML-escaped by the template engine.

use super::StatusView;

const PAGE: &str = include_str!("page.html");

/// The page for `view`.
pub fn render(view: &StatusView) -> Result<String, String> {
    crate::template::render_html(PAGE, view)
}
