//! `owner` recipients (SPEC §2 `owners`): the explicit map first, then Portal's user record
//! through the target's client (cached for `cache_for`), then the fallback address.

use crate::arcgis::JobSource;
use crate::clock::LocalMs;
use crate::config::{OwnerLookup, OwnersConfig};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// Where an owner's address came from, for the action's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The owner's own address (map or Portal).
    Address(String),
    /// The fallback, because the owner has none or the look-up failed; why.
    Fallback(String, String),
    /// No address and no fallback; why.
    Unreachable(String),
}

impl Owner {
    /// The address to write to, if any.
    pub fn address(&self) -> Option<&str> {
        match self {
            Owner::Address(a) | Owner::Fallback(a, _) => Some(a),
            Owner::Unreachable(_) => None,
        }
    }
}

/// (target, username) → (address or none, valid until, local epoch ms).
type Cache = HashMap<(String, String), (Option<String>, LocalMs)>;

/// Resolves usernames to addresses; one per daemon, shared by every action.
pub struct Owners {
    config: OwnersConfig,
    cache: Mutex<Cache>,
    /// Owners already logged as unreachable.
    logged: Mutex<HashSet<(String, String)>>,
}

impl Owners {
    /// A resolver for `owners:`.
    pub fn new(config: OwnersConfig) -> Owners {
        Owners { config, cache: Mutex::default(), logged: Mutex::default() }
    }

    /// The address of `username` on `target` at `now`.
    pub async fn resolve(&self, target: &str, source: &dyn JobSource, username: Option<&str>, now: LocalMs) -> Owner {
        let Some(username) = username.filter(|u| !u.is_empty()) else {
            return self.fall_back(target, "?", "the job names no owner".into());
        };
        if let Some(address) = self.config.map.get(username) {
            return Owner::Address(address.clone());
        }
        if self.config.lookup == OwnerLookup::None {
            return self.fall_back(target, username, format!("{username} is not in owners.map"));
        }
        match self.lookup(target, source, username, now).await {
            Ok(Some(address)) => Owner::Address(address),
            Ok(None) => self.fall_back(target, username, format!("{username} has no e-mail address in Portal")),
            Err(e) => self.fall_back(target, username, format!("looking up {username} failed: {e}")),
        }
    }

    async fn lookup(
        &self,
        target: &str,
        source: &dyn JobSource,
        username: &str,
        now: LocalMs,
    ) -> Result<Option<String>, crate::arcgis::Error> {
        let key = (target.to_string(), username.to_string());
        if let Some((address, until)) = self.cache.lock().expect("owner cache").get(&key) {
            if *until > now {
                return Ok(address.clone());
            }
        }
        let address = source.user_email(username).await?;
        let until = now.plus(self.config.cache_for.0.as_millis() as i64);
        self.cache.lock().expect("owner cache").insert(key, (address.clone(), until));
        Ok(address)
    }

    /// Who owners may ask (`owners.contact`).
    pub fn contact(&self) -> Option<&str> {
        self.config.contact.as_deref()
    }

    fn fall_back(&self, target: &str, username: &str, why: String) -> Owner {
        if let Some(fallback) = &self.config.fallback {
            return Owner::Fallback(fallback.clone(), why);
        }
        let first = self.logged.lock().expect("owner log").insert((target.to_string(), username.to_string()));
        if first {
            tracing::warn!(
                target_name = target,
                username,
                "{why}, and owners.fallback is not set: no e-mail for this owner"
            );
        }
        Owner::Unreachable(why)
    }
}
