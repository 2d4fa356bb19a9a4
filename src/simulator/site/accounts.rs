//! The simulated site's accounts: sign-in with referer binding, the lockout policy of Portal and
//! ArcGIS Server, tokens, and what `portals/self` says of the caller.

use super::{Grant, Refusal, Site, FORBIDDEN, LOCKED_MESSAGE, LOCKOUT_AFTER, LOCKOUT_WINDOW_MS};

/// The parameter under which the server hands over the sign-in request's own `Referer` header.
pub const REQUEST_REFERER: &str = "\u{0}referer-header";
use crate::config::Flavor;
use crate::simulator::scenario::User;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The org's id, as `portals/self` gives it.
pub const PORTAL_ID: &str = "0123456789ABCDEF";

impl Site {
    /// Signs a user in; the token is bound to `referer` when `client=referer`. Five refusals of
    /// one account within 15 minutes lock it for 15 minutes; a locked account is refused whatever
    /// its password, and each such attempt counts again (so trying keeps it locked).
    pub fn generate_token(&mut self, params: &HashMap<String, String>, now: i64) -> Result<(String, i64), Refusal> {
        let get = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
        let username = get("username").to_string();
        if self.locked_until.get(&username).is_some_and(|&until| now < until) {
            self.refuse(&username, now);
            return Err((400, LOCKED_MESSAGE.into()));
        }
        let user = self.users.iter().find(|u| u.username == username && u.password == get("password"));
        if params.contains_key("portal") {
            self.stats.portal_logins += 1;
        }
        let Some(user) = user.filter(|_| !get("password").is_empty()).cloned() else {
            self.refuse(&username, now);
            return Err((400, "Unable to generate token. Invalid username or password.".into()));
        };
        // Bound to the referer by default: `client=referer` with its `referer`, or, without
        // `client`, the Referer the sign-in itself was sent with. `ip`/`requestip` bind to none.
        let referer = match get("client") {
            "referer" if get("referer").is_empty() => return Err((400, "Referer is required.".into())),
            "referer" => Some(get("referer").to_string()),
            "" => params.get(REQUEST_REFERER).cloned(),
            _ => None,
        };
        let asked_ms = get("expiration").parse::<i64>().unwrap_or(60).max(1) * 60_000;
        let expires_ms = now + asked_ms.min(self.token_lifetime_ms);
        self.issued += 1;
        let token = format!("SIMTOK{}{:x}{}", self.issued, now, "Qx7".repeat(8));
        self.tokens.insert(token.clone(), Grant { username: user.username.clone(), referer, expires_ms });
        self.refusals.remove(&user.username);
        self.stats.logins += 1;
        Ok((token, expires_ms))
    }

    /// Counts one refused sign-in; the fifth within the window locks the account.
    fn refuse(&mut self, username: &str, now: i64) {
        self.stats.failed_logins += 1;
        self.stats.refused_at.push(now);
        let recent = self.refusals.entry(username.to_string()).or_default();
        recent.retain(|&at| at > now - LOCKOUT_WINDOW_MS);
        recent.push(now);
        if recent.len() >= LOCKOUT_AFTER {
            let until = self.locked_until.entry(username.to_string()).or_insert(0);
            if *until <= now {
                self.stats.lockouts += 1;
            }
            *until = now + LOCKOUT_WINDOW_MS;
        }
    }

    /// The user behind a token, if the token is valid for this `referer` at `now`.
    pub fn authorize(
        &self,
        token: Option<&str>,
        referer: Option<&str>,
        now: i64,
        admin: bool,
    ) -> Result<&User, Refusal> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err((499, "Token Required".into()));
        };
        let grant = self.tokens.get(token).ok_or((498, "Invalid token.".to_string()))?;
        if now >= grant.expires_ms || grant.referer.as_deref().is_some_and(|r| Some(r) != referer) {
            return Err((498, "Invalid token.".into()));
        }
        let user =
            self.users.iter().find(|u| u.username == grant.username).ok_or((498, "Invalid token.".to_string()))?;
        if admin && !user.is_admin() {
            return Err((403, FORBIDDEN.into()));
        }
        Ok(user)
    }

    /// `portals/self` for the caller: the org, and the user with role and privileges.
    pub fn portal_self(&self, caller: &User) -> Value {
        json!({
            "id": PORTAL_ID, "name": "nbwarden simulator", "currentVersion": "2025.1",
            "portalDeploymentType": if self.flavor == Flavor::Enterprise { "ArcGISEnterpriseOnKubernetes" } else { "ArcGISEnterprise" },
            "user": {
                "username": caller.username, "email": caller.email, "role": caller.role(),
                "roleId": if caller.role.is_some() { "cUsToMrOlE000000" } else { caller.role() },
                "privileges": caller.privileges,
            },
        })
    }
}
