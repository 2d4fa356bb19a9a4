//! `auth:` of a target (SPEC §2): the serde type, and the one checked sign-in method it describes.

use super::duration::ConfigDuration;
use crate::secret::Secret;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// `auth:` as written; `load` reads the `*_file` secrets and checks that one method is given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Portal whose `sharing/rest/generateToken` issues the token.
    pub portal_url: Option<String>,
    /// The account nbwarden signs in with.
    pub username: Option<String>,
    /// Its password.
    pub password: Option<Secret>,
    /// A file holding the password.
    pub password_file: Option<PathBuf>,
    /// A static token instead of a sign-in.
    pub token: Option<Secret>,
    /// A file holding the static token.
    pub token_file: Option<PathBuf>,
    /// Sent at generateToken (`client=referer`) and as `Referer` on every call.
    #[serde(default = "default_referer")]
    pub referer: String,
    /// Requested token lifetime.
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime: ConfigDuration,
}

fn default_referer() -> String {
    "nbwarden".into()
}

fn default_token_lifetime() -> ConfigDuration {
    ConfigDuration(Duration::from_secs(3600))
}

/// The checked sign-in method of a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    /// `<portal_url>/sharing/rest/generateToken`.
    Portal {
        /// Portal root, without a trailing slash.
        portal_url: String,
        /// Account name.
        username: String,
        /// Account password.
        password: Secret,
    },
    /// `<admin_url>/generateToken` (Notebook Server primary site administrator).
    Admin {
        /// Account name.
        username: String,
        /// Account password.
        password: Secret,
    },
    /// A token given in the configuration; it cannot be refreshed.
    Static(Secret),
}

impl AuthConfig {
    /// The one sign-in method this block describes, or what is wrong with it.
    pub fn method(&self) -> Result<AuthMethod, AuthError> {
        match (&self.token, &self.username, &self.password) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(AuthError::TokenAndPassword),
            (Some(token), None, None) if self.portal_url.is_none() => Ok(AuthMethod::Static(token.clone())),
            (Some(_), None, None) => Err(AuthError::PortalWithToken),
            (None, Some(username), Some(password)) => Ok(match &self.portal_url {
                Some(url) => AuthMethod::Portal {
                    portal_url: url.trim_end_matches('/').to_string(),
                    username: username.clone(),
                    password: password.clone(),
                },
                None => AuthMethod::Admin { username: username.clone(), password: password.clone() },
            }),
            (None, Some(_), None) => Err(AuthError::NoPassword),
            (None, None, Some(_)) => Err(AuthError::NoUsername),
            (None, None, None) => Err(AuthError::NoCredentials),
        }
    }
}

/// What is wrong with an `auth:` block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Both kinds of credentials.
    #[error("both a token and a username/password are set; {HINT}")]
    TokenAndPassword,
    /// A Portal cannot take a static token.
    #[error("portal_url is set with a static token; {HINT}")]
    PortalWithToken,
    /// Half a password sign-in.
    #[error("username without password (or password_file); {HINT}")]
    NoPassword,
    /// The other half.
    #[error("password without username; {HINT}")]
    NoUsername,
    /// Nothing at all.
    #[error("no credentials; {HINT}")]
    NoCredentials,
    /// On `enterprise`, no Portal URL to sign in at.
    #[error("admin_url `{admin_url}` does not end with /admin, so the Portal URL that issues tokens cannot be derived; set auth.portal_url")]
    NoPortal {
        /// The configured admin URL.
        admin_url: String,
    },
}

const HINT: &str = "give exactly one of: portal_url + username + password | username + password | token";
