//! The client's sign-in: one `generateToken` call, only when the account's history allows it
//! (SPEC §4.8), with the password file read again first.

use super::{is_refusal, refusal_message, Call, Client};
use crate::arcgis::auth::{Issued, TokenCache};
use crate::arcgis::error::{Error, Result};
use crate::arcgis::model::rfc3339;
use crate::arcgis::signin::{self, RefusalKind};
use crate::arcgis::wire::TokenResponse;
use crate::clock::ServerMs;
use crate::config::AuthMethod;
use crate::secret::Secret;

impl Client {
    /// One sign-in, if the account's history allows it now (SPEC §4.8).
    pub(super) async fn sign_in(&self, cache: &mut TokenCache) -> Result<Secret> {
        let (username, configured) = match &self.method {
            AuthMethod::Portal { username, password, .. } | AuthMethod::Admin { username, password } => {
                (username, password)
            }
            AuthMethod::Static(token) => return Ok(token.clone()),
        };
        let password = self.current_password(configured);
        let url = self.endpoints.generate_token();
        let account = signin::account(&url, username);
        let credentials = signin::fingerprint(&account, password.expose());
        if let Some(wait) = self.sign_ins.wait(&account, credentials) {
            let until = rfc3339(wait.until.0).unwrap_or_default();
            return Err(Error::SignInPaused { account, reason: wait.reason, until, until_at: wait.until });
        }
        let params = vec![
            ("username", username.clone()),
            ("password", password.expose().to_string()),
            ("client", "referer".into()),
            ("referer", self.referer.clone()),
            ("expiration", self.lifetime.as_secs().div_ceil(60).max(1).to_string()),
            ("f", "json".into()),
        ];
        let answer = self.send::<TokenResponse>(&Call::post(url.clone(), params), None).await;
        match answer {
            Ok(TokenResponse { token: Some(token), expires }) => {
                let issued = Issued::new(token, expires.map(ServerMs), self.clock.server_now(), self.lifetime);
                tracing::debug!(target_name = %self.name, expires_ms = issued.expires.0, "signed in");
                metrics::counter!(crate::telemetry::TOKEN_REFRESHES, "target" => self.name.clone()).increment(1);
                self.sign_ins.succeeded(&account).await;
                *self.site.lock().unwrap_or_else(|p| p.into_inner()) = None;
                cache.current = Some(issued.clone());
                Ok(issued.token)
            }
            Ok(_) => Err(Error::UnexpectedShape { url, expected: "a token" }),
            Err(e @ Error::Unauthorized { .. }) => Err(Error::behind_a_proxy(e)),
            Err(e) if is_refusal(&e) => {
                let message = refusal_message(&e);
                let kind = RefusalKind::of_message(&message);
                let wait = self.sign_ins.refused(&account, kind, credentials, &message).await;
                cache.current = None;
                let next_try = rfc3339(wait.until.0).unwrap_or_default();
                Err(Error::LoginRefused { url, message, next_try, next_try_at: wait.until })
            }
            Err(e) => Err(e),
        }
    }

    /// The password: `auth.password_file` read again (a rotated secret is used at once), else
    /// the configured one.
    pub(super) fn current_password(&self, configured: &Secret) -> Secret {
        let Some(path) = &self.password_file else { return configured.clone() };
        match std::fs::read_to_string(path) {
            Ok(text) if !text.trim().is_empty() => Secret::new(text.trim()),
            _ => configured.clone(),
        }
    }
}
