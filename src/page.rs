//! nbwarden's own HTML pages (`/status`, the report) rendered with one strict MiniJinja
//! environment: every value HTML-escaped, an undefined name an error that fails their tests. A leaf,
//! so that the pages need nothing of the action plugins.

use minijinja::{Environment, UndefinedBehavior};
use std::sync::OnceLock;

/// Why a page could not be rendered: a mistake in its template.
#[derive(Debug, thiserror::Error)]
#[error("the page template fails: {0:#}")]
pub struct PageError(#[from] minijinja::Error);

fn pages() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env
    })
}

/// Renders a page, strictly: every value is HTML-escaped.
pub fn render(source: &str, context: &impl serde::Serialize) -> Result<String, PageError> {
    let template = pages().template_from_named_str("page.html", source)?;
    Ok(template.render(minijinja::value::Serde(context))?)
}
