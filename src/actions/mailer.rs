//! The e-mail transport of `email:` (SMTP, `.eml` files or sendmail) through lettre, each send
//! bounded in time and its failure sorted into transient (retried) or permanent.

use super::ActionError;
use crate::config::{EmailConfig, EmailTransport, SmtpSecurity};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSendmailTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

mod pool;

/// Default bound on one send.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

enum Transport {
    /// Implicit TLS (`security: tls`), through lettre's transport and its pool.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Plain or STARTTLS, over connections opened here with `TCP_NODELAY`.
    Pooled(pool::Pool),
    /// The transport, and its folder.
    File(AsyncFileTransport<Tokio1Executor>, std::path::PathBuf),
    Sendmail(AsyncSendmailTransport<Tokio1Executor>),
}

/// Sends messages as `email:` says.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    timeout: Duration,
    describe: String,
}

impl Mailer {
    /// The transport of a validated `email:` section.
    pub fn new(config: &EmailConfig) -> Result<Mailer, MailerError> {
        let from = config.from.as_deref().ok_or(MailerError::Missing("email.from is required"))?;
        let from: Mailbox =
            from.parse().map_err(|e| MailerError::Invalid(format!("email.from `{from}` is not an address: {e}")))?;
        let timeout = config.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
        let (transport, describe) = match config.transport {
            EmailTransport::Smtp => smtp(config, timeout)?,
            EmailTransport::File => {
                let dir =
                    config.dir.as_ref().ok_or(MailerError::Missing("email.dir is required with transport: file"))?;
                crate::files::create_private_dir(dir)
                    .map_err(|e| MailerError::Invalid(format!("email.dir {}: {e}", dir.display())))?;
                (Transport::File(AsyncFileTransport::new(dir), dir.clone()), format!("files in {}", dir.display()))
            }
            EmailTransport::Sendmail => (Transport::Sendmail(AsyncSendmailTransport::new()), "sendmail".into()),
        };
        Ok(Mailer { transport, from, timeout, describe })
    }

    /// The configured sender.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Where messages go, for people (`smtp.example.com:587`, `files in ./outbox`).
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// One message, one attempt, bounded by the configured timeout.
    pub async fn send(&self, message: Message) -> Result<(), ActionError> {
        let sent = tokio::time::timeout(self.timeout, async {
            match &self.transport {
                Transport::Smtp(t) => t.send(message).await.map(drop).map_err(smtp_error),
                Transport::Pooled(pool) => pool.send(message.envelope(), &message.formatted()).await,
                Transport::File(t, dir) => {
                    let id = t.send(message).await.map_err(|e| ActionError::transient(e.to_string()))?;
                    private(&dir.join(format!("{id}.eml")))
                }
                Transport::Sendmail(t) => {
                    t.send(message).await.map(drop).map_err(|e| ActionError::transient(format!("sendmail: {e}")))
                }
            }
        })
        .await;
        sent.unwrap_or_else(|_| {
            let waited = crate::config::format_duration(self.timeout);
            Err(ActionError::transient(format!("{}: no answer within {waited}", self.describe)))
        })
    }
}

/// A written message is its recipient's business: readable by nbwarden's user only (the folder
/// is 0700 too). The message is written either way, so a failure here is only logged.
fn private(file: &std::path::Path) -> Result<(), ActionError> {
    #[cfg(unix)]
    if let Err(e) = std::fs::set_permissions(file, std::os::unix::fs::PermissionsExt::from_mode(0o600)) {
        tracing::warn!(file = %file.display(), error = %e, "cannot make the message file private");
    }
    Ok(())
}

/// What is wrong with the `email:` section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailerError {
    /// A key the transport needs is missing.
    #[error("{0}")]
    Missing(&'static str),
    /// A value that does not work: which, and why.
    #[error("{0}")]
    Invalid(String),
}

/// Connections kept open to the relay, so that many messages go out at once.
pub const SMTP_CONNECTIONS: u32 = 16;

fn smtp(config: &EmailConfig, timeout: Duration) -> Result<(Transport, String), MailerError> {
    let host = config.host.as_deref().ok_or(MailerError::Missing("email.host is required with transport: smtp"))?;
    let port = config.port.unwrap_or(match config.security {
        SmtpSecurity::Tls => 465,
        SmtpSecurity::Starttls => 587,
        SmtpSecurity::None => 25,
    });
    let credentials = config.username.as_ref().map(|username| {
        let password = config.password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default();
        Credentials::new(username.clone(), password)
    });
    let invalid = |e: lettre::transport::smtp::Error| MailerError::Invalid(format!("email.host `{host}`: {e}"));
    let transport = match config.security {
        SmtpSecurity::Tls => {
            let pool = lettre::transport::smtp::PoolConfig::new().max_size(SMTP_CONNECTIONS);
            let builder = AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(invalid)?;
            let builder = builder.timeout(Some(timeout)).pool_config(pool).port(port);
            Transport::Smtp(match credentials {
                Some(credentials) => builder.credentials(credentials).build(),
                None => builder.build(),
            })
        }
        security => {
            let starttls = security == SmtpSecurity::Starttls;
            if starttls {
                lettre::transport::smtp::client::TlsParameters::new(host.to_string()).map_err(invalid)?;
            }
            let relay = pool::Relay { host: host.to_string(), port, starttls, credentials };
            Transport::Pooled(pool::Pool::new(relay, SMTP_CONNECTIONS as usize))
        }
    };
    Ok((transport, format!("{host}:{port}")))
}

/// SMTP 5xx replies are permanent; 4xx replies, connection and TLS trouble are transient.
fn smtp_error(e: lettre::transport::smtp::Error) -> ActionError {
    if e.is_permanent() {
        ActionError::permanent(format!("the SMTP server refused: {e}"))
    } else {
        ActionError::transient(format!("SMTP: {e}"))
    }
}
