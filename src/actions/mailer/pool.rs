//! SMTP connections opened here with `TCP_NODELAY`, kept open between messages (at most
//! `SMTP_CONNECTIONS`), for plain and STARTTLS relays. lettre 0.11.23 opens its sockets with
//! Nagle's algorithm on, so each command of a message waits about 40 ms for the relay's delayed
//! ACK (fixed upstream in lettre PR #1159, not released yet); lettre's own connection, handed a
//! socket through `connect_with_transport`, speaks SMTP over it.

use super::super::ActionError;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// A connection idle longer than this is closed rather than used again (lettre's default).
const IDLE: Duration = Duration::from_secs(60);

/// Where and how to connect.
pub struct Relay {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Upgrade with STARTTLS before anything else is said.
    pub starttls: bool,
    /// `AUTH` with these, when set.
    pub credentials: Option<Credentials>,
}

/// The open connections to one relay.
pub struct Pool {
    relay: Relay,
    hello: ClientId,
    idle: std::sync::Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    slots: Semaphore,
}

impl Pool {
    /// A pool of at most `size` connections to `relay`.
    pub fn new(relay: Relay, size: usize) -> Pool {
        Pool { relay, hello: ClientId::default(), idle: std::sync::Mutex::default(), slots: Semaphore::new(size) }
    }

    /// Sends one message over an open connection, or a new one.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), ActionError> {
        let _slot = self.slots.acquire().await.map_err(|_| ActionError::transient("SMTP: the pool is closed"))?;
        let mut connection = match self.reusable().await {
            Some(connection) => connection,
            None => self.connect().await?,
        };
        match connection.send(envelope, message).await {
            Ok(_) => {
                self.parked().push((connection, Instant::now()));
                Ok(())
            }
            Err(e) => {
                connection.abort().await;
                Err(super::smtp_error(e))
            }
        }
    }

    fn parked(&self) -> std::sync::MutexGuard<'_, Vec<(AsyncSmtpConnection, Instant)>> {
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An idle connection that still answers (`NOOP`, as lettre's pool checks), if any.
    async fn reusable(&self) -> Option<AsyncSmtpConnection> {
        loop {
            let (mut connection, since) = self.parked().pop()?;
            if since.elapsed() < IDLE && !connection.has_broken() && connection.test_connected().await {
                return Some(connection);
            }
            connection.abort().await;
        }
    }

    /// A new connection: TCP with `TCP_NODELAY`, the greeting and `EHLO`, STARTTLS, `AUTH`.
    async fn connect(&self) -> Result<AsyncSmtpConnection, ActionError> {
        let relay = &self.relay;
        let address = format!("{}:{}", relay.host, relay.port);
        let tcp = tokio::net::TcpStream::connect((relay.host.as_str(), relay.port))
            .await
            .map_err(|e| ActionError::transient(format!("SMTP: cannot connect to {address}: {e}")))?;
        tcp.set_nodelay(true).map_err(|e| ActionError::transient(format!("SMTP: {address}: {e}")))?;
        let mut connection =
            AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello).await.map_err(super::smtp_error)?;
        if relay.starttls {
            let tls = TlsParameters::new(relay.host.clone()).map_err(super::smtp_error)?;
            connection.starttls(tls, &self.hello).await.map_err(super::smtp_error)?;
        }
        if let Some(credentials) = &relay.credentials {
            connection.auth(&[Mechanism::Plain, Mechanism::Login], credentials).await.map_err(super::smtp_error)?;
        }
        Ok(connection)
    }
}
