//! The `email` action: one message per recipient per poll, listing only that recipient's jobs;
//! `owner` resolves through `owners`; the Message-ID is derived from the firing, so a retried send
//! is recognisable as the same message.

use super::reports::MadeReport;
use super::template;
use super::{ActionContext, ActionError, Done};
use futures_util::StreamExt;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;
use serde::{Deserialize, Serialize};

/// `type: email`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmailAction {
    /// Addresses, or `owner` for the job's owner.
    #[serde(default)]
    pub to: Vec<String>,
    /// Addresses, or `owner`.
    #[serde(default)]
    pub cc: Vec<String>,
    /// A template; default: rule, job count and target.
    pub subject: Option<String>,
    /// A template; default: a plain-text table of the jobs with their links.
    pub body: Option<String>,
    /// A template for an HTML alternative (values are HTML-escaped).
    pub html: Option<String>,
    /// Attach `nbwarden report` (HTML with charts) and put its summary table in the body.
    #[serde(default)]
    pub report: Option<super::reports::ReportSpec>,
}

/// The recipient word that stands for each job's owner.
pub const OWNER: &str = "owner";

impl super::Plugin for EmailAction {
    fn kind(&self) -> &'static str {
        "email"
    }

    fn templates(&self) -> Vec<(&'static str, &str)> {
        let sources = [("subject", &self.subject), ("body", &self.body), ("html", &self.html)];
        sources.into_iter().filter_map(|(key, source)| Some((key, source.as_deref()?))).collect()
    }

    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if self.to.is_empty() && self.cc.is_empty() {
            out.push(("to", "an email action needs `to` (addresses or `owner`)".to_string()));
        }
        if let Some(report) = &self.report {
            if !super::reports::GROUPINGS.contains(&report.by.as_str()) {
                let valid = super::reports::GROUPINGS.join(", ");
                out.push(("report", format!("`report.by: {}` is not a grouping; use one of {valid}", report.by)));
            }
        }
        for address in self.to.iter().chain(&self.cc).filter(|a| *a != OWNER) {
            if let Err(err) = address.parse::<Mailbox>() {
                out.push(("to", format!("`{address}` is not an e-mail address ({err}); or write `owner`")));
            }
        }
        out
    }

    /// Addresses and templates hold no secret.
    fn scrubbed(&self) -> super::ActionConfig {
        super::ActionConfig::Email(self.clone())
    }

    fn is_batched(&self) -> bool {
        true
    }

    fn build(&self) -> Box<dyn super::Action> {
        Box::new(Email(self.clone()))
    }
}

/// Default subject, when the rule gives none: the notebook's title first, as its owner knows it.
pub const DEFAULT_SUBJECT: &str = "{% if task %}[nbwarden] {{ rule }} on {{ target }}: task {{ task.title }} \
    ({{ event.kind }}{% if task.consecutive_failures %}, {{ task.consecutive_failures }} failure(s) in a row{% endif %})\
    {% elif jobs | length == 1 %}Notebook {% if job.title %}'{{ job.title }}'{% else %}job {{ job.id }}{% endif %} \
    {% if job.phase == 'running' %}has been running for {{ job.runtime }}{% elif job.phase == 'submitted' %}is waiting to start\
    {% elif job.phase == 'cancelled' %}was cancelled{% else %}{{ job.phase }}{% endif %} ({{ rule }} on {{ target }})\
    {% else %}[nbwarden] {{ rule }} on {{ target }}: {{ jobs | length }} notebook jobs{% endif %}";

/// Sends the planned jobs to their recipients.
#[derive(Debug)]
pub struct Email(pub EmailAction);

/// Which header a recipient is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    To,
    Cc,
}

mod body;
mod letters;
use letters::{with_owners, Letter};

#[async_trait::async_trait]
impl super::Action for Email {
    async fn execute(&self, cx: &ActionContext<'_>) -> Result<Done, ActionError> {
        let mailer = cx
            .services
            .mailer
            .as_ref()
            .ok_or_else(|| ActionError::permanent("an email action needs an `email:` section in nbwarden.yaml"))?;
        let report = self.report(cx).await?;
        let jobs = with_owners(cx).await;
        let (letters, mut notes) = self.letters(cx, &jobs).await;
        if letters.is_empty() {
            return Err(ActionError::permanent(format!("no recipient to write to: {}", notes.join("; "))));
        }
        // Up to SENDING messages at once over the transport's pool; each recipient is settled (and
        // journaled) the moment its message is accepted; the outcomes come in the letters' order.
        let sends: Vec<_> = letters.iter().map(|letter| self.send(cx, mailer, letter, report.as_ref())).collect();
        let outcomes: Vec<Sent> = futures_util::stream::iter(sends).buffered(SENDING).collect().await;
        let (mut sent, mut transient) = (Vec::new(), None);
        for (letter, outcome) in letters.iter().zip(outcomes) {
            let address = &letter.address;
            match outcome {
                Sent::Earlier => sent.push(format!("{address} (earlier)")),
                Sent::Now => sent.push(address.clone()),
                Sent::Refused(why) => notes.push(format!("{address}: {why}")),
                Sent::NotNow(e) => {
                    transient.get_or_insert(e);
                }
            }
        }
        let detail = describe(&sent, &notes);
        match transient {
            Some(e) => Err(ActionError::transient(format!("{e}; {detail}"))),
            None if sent.is_empty() => Err(ActionError::permanent(detail)),
            None => Ok(Done::Done(detail)),
        }
    }

    async fn preview_each(&self, cx: &ActionContext<'_>) -> Vec<String> {
        self.preview_letters(cx).await
    }

    fn preview(&self, cx: &ActionContext<'_>) -> String {
        let recipients: Vec<String> = self.0.to.iter().chain(&self.0.cc).map(|r| preview_recipient(cx, r)).collect();
        let context = cx.template_context(cx.occasion.jobs);
        let subject = template::render_header(self.0.subject.as_deref().unwrap_or(DEFAULT_SUBJECT), &context)
            .unwrap_or_else(|e| format!("(subject fails to render: {e})"));
        format!("would e-mail {}; subject: {subject}", recipients.join(", "))
    }
}

/// Messages sent at once, one per connection of the SMTP pool.
const SENDING: usize = super::mailer::SMTP_CONNECTIONS as usize;

/// What became of one recipient's message.
enum Sent {
    /// Sent by an earlier attempt (the progress journal says so).
    Earlier,
    /// Accepted by the server.
    Now,
    /// Refused for good, or not writable: why.
    Refused(String),
    /// Not now: worth another try.
    NotNow(super::BoxError),
}

impl Email {
    /// Writes and sends one recipient's message unless an earlier attempt did; settles it unless
    /// the failure is worth another try.
    async fn send(
        &self,
        cx: &ActionContext<'_>,
        mailer: &super::Mailer,
        letter: &Letter,
        report: Option<&MadeReport>,
    ) -> Sent {
        if cx.progress.contains(&letter.address) {
            return Sent::Earlier;
        }
        if !cx.progress.may_act() {
            return Sent::NotNow("this replica lost the target's lease; its new holder sends the rest".into());
        }
        let sent = match self.message(cx, mailer.from(), letter, report) {
            Ok(message) => match mailer.send(message).await {
                Ok(()) => Sent::Now,
                Err(ActionError::Transient(e)) => return Sent::NotNow(e),
                Err(ActionError::Permanent(e)) => Sent::Refused(e.to_string()),
            },
            Err(e) => Sent::Refused(e.to_string()),
        };
        cx.progress.settle(&letter.address).await;
        sent
    }

    /// The report to attach, made once for every recipient; a report that cannot be made now is
    /// worth another try.
    async fn report(&self, cx: &ActionContext<'_>) -> Result<Option<MadeReport>, ActionError> {
        let Some(spec) = &self.0.report else { return Ok(None) };
        let maker = cx.services.reports.as_ref().ok_or_else(|| {
            ActionError::permanent("`report:` needs nbwarden's state store, which this command does not open")
        })?;
        let made = maker.make(spec, cx.target, cx.now).await;
        made.map(Some).map_err(|e| ActionError::transient(format!("cannot make the report: {e}")))
    }

    fn message(
        &self,
        cx: &ActionContext<'_>,
        from: &Mailbox,
        letter: &Letter,
        report: Option<&MadeReport>,
    ) -> Result<Message, MessageError> {
        let to: Mailbox = letter.address.parse().map_err(MessageError::Address)?;
        let context = cx.template_context(&letter.jobs);
        let subject = template::render_header(self.0.subject.as_deref().unwrap_or(DEFAULT_SUBJECT), &context)?;
        let text = match &self.0.body {
            Some(body) => template::render(body, &context)?,
            None => body::default_body(cx, letter, report.is_some()),
        };
        let builder = Message::builder()
            .from(from.clone())
            .subject(subject)
            .message_id(Some(message_id(&self.0, cx, letter, from)))
            .date_now();
        let builder = match letter.field {
            Field::To => builder.to(to),
            Field::Cc => builder.cc(to),
        };
        let html = self.0.html.as_deref().map(|html| template::render_html(html, &context)).transpose()?;
        let built = match (report, html) {
            (Some(report), html) => builder.multipart(with_report(text, html, report)?),
            (None, Some(html)) => builder.multipart(MultiPart::alternative_plain_html(text, html)),
            (None, None) => builder.header(ContentType::TEXT_PLAIN).body(text),
        };
        built.map_err(MessageError::Build)
    }
}

/// The body with the report's summary after it (text, and an HTML table mail clients render),
/// and the whole report attached as an HTML file.
fn with_report(body: String, html: Option<String>, report: &MadeReport) -> Result<MultiPart, MessageError> {
    let html = match html {
        Some(html) => html,
        None => template::render_html("<pre>{{ body }}</pre>", &serde_json::json!({ "body": body }))?,
    };
    let text = format!("{body}\n\n{}", report.text);
    let html = format!("{html}\n{}", report.summary_html);
    let attachment =
        lettre::message::Attachment::new(report.file_name.clone()).body(report.html.clone(), ContentType::TEXT_HTML);
    Ok(MultiPart::mixed().multipart(MultiPart::alternative_plain_html(text, html)).singlepart(attachment))
}

/// Why one recipient's message could not be written.
#[derive(Debug, thiserror::Error)]
enum MessageError {
    /// The owner's address from Portal or the map does not parse.
    #[error("not an e-mail address ({0})")]
    Address(lettre::address::AddressError),
    /// A template failed.
    #[error(transparent)]
    Template(#[from] template::TemplateError),
    /// lettre refused the message.
    #[error("cannot build the message: {0}")]
    Build(lettre::error::Error),
}

/// Stable for one firing and recipient: the same message on every retry and after a restart.
fn message_id(config: &EmailAction, cx: &ActionContext<'_>, letter: &Letter, from: &Mailbox) -> String {
    let planned = cx.occasion;
    let mut key = format!("{}\0{}\0{}\0{}\0", cx.target, planned.rule, planned.planned_ms.0, planned.event.kind);
    key.push_str(&serde_json::to_string(&super::ActionConfig::Email(config.clone())).unwrap_or_default());
    for job in &letter.jobs {
        key.push('\0');
        key.push_str(&job.id);
    }
    key.push('\0');
    key.push_str(&letter.address.to_ascii_lowercase());
    let hash = crate::text::fx_hash(&key);
    format!("<nbwarden.{hash:016x}@{}>", from.email.domain())
}

fn preview_recipient(cx: &ActionContext<'_>, recipient: &str) -> String {
    if recipient != OWNER {
        return recipient.to_string();
    }
    let owners: Vec<&str> = cx.occasion.jobs.iter().map(|j| j.username.as_deref().unwrap_or("?")).collect();
    format!("the owner ({})", owners.join(", "))
}

fn describe(sent: &[String], notes: &[String]) -> String {
    let mut detail = if sent.is_empty() { "nothing sent".to_string() } else { format!("to {}", sent.join(", ")) };
    if !notes.is_empty() {
        detail.push_str(&format!(" ({})", notes.join("; ")));
    }
    detail
}
