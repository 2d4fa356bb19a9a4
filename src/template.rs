//! MiniJinja templates of rule actions: checked when rules compile, rendered with the job context
//! of SPEC §3. Undefined variables are errors, so a typo is caught by `check`, not at 3 a.m.

use minijinja::{Environment, UndefinedBehavior};
use std::sync::OnceLock;

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env
    })
}

/// Checks a template's syntax.
pub fn check(source: &str) -> Result<(), String> {
    environment().template_from_str(source).map(drop).map_err(|e| describe(&e))
}

/// Renders a template with `context` (any serializable value).
pub fn render(source: &str, context: &impl serde::Serialize) -> Result<String, String> {
    let template = environment().template_from_str(source).map_err(|e| describe(&e))?;
    template.render(minijinja::value::Serde(context)).map_err(|e| describe(&e))
}

/// A value meant for a header: rendered, with CR and LF replaced by spaces.
pub fn render_header(source: &str, context: &impl serde::Serialize) -> Result<String, String> {
    render(source, context).map(|text| text.replace(['\r', '\n'], " "))
}

fn describe(error: &minijinja::Error) -> String {
    let mut text = error.detail().map(|d| d.to_string()).unwrap_or_else(|| error.kind().to_string());
    if let Some(line) = error.line() {
        text.push_str(&format!(" (template line {line})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_and_rejects() {
        let context = json!({ "job": { "id": "j1", "runtime": "1h32m" } });
        assert_eq!(render("{{ job.id }} ran {{ job.runtime }}", &context).unwrap(), "j1 ran 1h32m");
        assert!(check("{{ job.id }").is_err());
        assert!(render("{{ jbo.id }}", &context).unwrap_err().contains("undefined"));
    }

    #[test]
    fn header_values_stay_on_one_line() {
        let context = json!({ "job": { "username": "eve\r\nBcc: victim@example.com" } });
        let header = render_header("Job of {{ job.username }}", &context).unwrap();
        assert!(!header.contains('\r') && !header.contains('\n'), "{header}");
    }
}
