//! Logging on standard error (edge): every field of every record sanitized, so that text from a
//! site (a job id, an error message, a title) can never forge a line, move the cursor or hide
//! itself, whichever call site logged it (SPEC §4.19).

use super::LogFormat;
use std::fmt;
use std::io::{self, Write};
use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::Writer;

/// Starts logging on standard error.
/// `demo`: the log action's lines are left out, since the demo prints each action's outcome, the
/// message included, already.
pub fn init(format: LogFormat, verbose: u8, quiet: bool, demo: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("NBWARDEN_LOG").unwrap_or_else(|_| {
        let muted = if demo { ",nbwarden::actions::log=off" } else { "" };
        tracing_subscriber::EnvFilter::new(format!("warn,nbwarden={default}{muted}"))
    });
    // Colours only on a terminal (and never with NO_COLOR): a log file gets plain lines.
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    match format {
        LogFormat::Text => builder.with_ansi(colour).fmt_fields(SafeFields).with_writer(io::stderr).init(),
        LogFormat::Json => builder.with_ansi(false).json().with_writer(|| JsonSafe(io::stderr())).init(),
    }
}

/// Formats the fields of a text record with every value sanitized (`crate::text::sanitize`).
pub struct SafeFields;

impl<'a> MakeVisitor<Writer<'a>> for SafeFields {
    type Visitor = SafeVisitor<'a>;

    fn make_visitor(&self, target: Writer<'a>) -> SafeVisitor<'a> {
        SafeVisitor { writer: target, first: true, result: Ok(()) }
    }
}

/// Writes `name=value` pairs (the message bare), each value sanitized.
pub struct SafeVisitor<'a> {
    writer: Writer<'a>,
    first: bool,
    result: fmt::Result,
}

impl SafeVisitor<'_> {
    fn write(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        let separator = if std::mem::replace(&mut self.first, false) { "" } else { " " };
        let value = crate::text::sanitize(value);
        self.result = match field.name() {
            "message" => write!(self.writer, "{separator}{value}"),
            name => write!(self.writer, "{separator}{}={value}", name.trim_start_matches("r#")),
        };
    }
}

impl Visit for SafeVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.write(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, &format!("{value:?}"));
    }
}

impl VisitOutput<fmt::Result> for SafeVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for SafeVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

/// Standard error for JSON records: serde_json escapes control characters already; the
/// invisible characters that reorder a terminal line are escaped too (`\u202e`, the same value).
pub struct JsonSafe<W>(W);

impl<W: Write> Write for JsonSafe<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // A record arrives whole; one that is not UTF-8 (it always is) passes as it is.
        match std::str::from_utf8(bytes) {
            Ok(text) => self.0.write_all(crate::text::json_safe(text.to_string()).as_bytes())?,
            Err(_) => self.0.write_all(bytes)?,
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::fmt::MakeWriter;

    /// A writer that keeps what it is given.
    #[derive(Clone, Default)]
    struct Kept(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Kept {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Kept {
        type Writer = Kept;
        fn make_writer(&'a self) -> Kept {
            self.clone()
        }
    }

    #[test]
    fn a_hostile_value_cannot_forge_a_line_or_colour_the_terminal() {
        let kept = Kept::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .without_time()
            .fmt_fields(SafeFields)
            .with_writer(kept.clone())
            .finish();
        let hostile = "j1\r\nINFO forged: admin cancelled everything \u{1b}[31m\u{202e}";
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(job = %hostile, error = ?hostile, "poll of {hostile}");
        });
        let text = String::from_utf8(kept.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains('\u{1b}') && !text.contains('\u{202e}') && !text.contains('\r'), "{text}");
        assert!(text.contains("j1\\r\\nINFO forged"), "{text}");
    }
}
