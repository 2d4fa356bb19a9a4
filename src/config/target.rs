//! What a target's configuration implies for signing in: the one sign-in method, its Portal, and
//! whether it speaks HTTPS.

use super::auth::{AuthError, AuthMethod};
use super::model::{Flavor, TargetConfig};

impl TargetConfig {
    /// The sign-in method. On `enterprise`, tokens always come from the Portal: `auth.portal_url`,
    /// or by default `admin_url` without its trailing `/admin` (the Kubernetes admin API has no
    /// `generateToken` of its own).
    pub fn auth_method(&self) -> Result<AuthMethod, AuthError> {
        match (self.flavor, self.auth.method()?) {
            (Flavor::Enterprise, AuthMethod::Admin { username, password }) => {
                let portal_url = self
                    .default_portal_url()
                    .ok_or_else(|| AuthError::NoPortal { admin_url: self.admin_url.clone() })?;
                Ok(AuthMethod::Portal { portal_url, username, password })
            }
            (_, method) => Ok(method),
        }
    }

    /// The Portal of this target: `auth.portal_url`, else on `enterprise` `admin_url` without `/admin`.
    pub fn portal_url(&self) -> Option<String> {
        match &self.auth.portal_url {
            Some(url) => Some(url.trim_end_matches('/').to_string()),
            None if self.flavor == Flavor::Enterprise => self.default_portal_url(),
            None => None,
        }
    }

    /// True when any URL nbwarden calls for this target is `https:`.
    pub fn uses_https(&self) -> bool {
        let https = |url: &str| url.get(..6).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https:"));
        https(&self.admin_url) || self.portal_url().is_some_and(|p| https(&p))
    }

    fn default_portal_url(&self) -> Option<String> {
        self.admin_url.trim_end_matches('/').strip_suffix("/admin").map(str::to_string).filter(|p| !p.is_empty())
    }
}
