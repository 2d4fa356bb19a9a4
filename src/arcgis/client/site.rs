//! What the site says about itself, read after each sign-in: version, the account's scope, limits.

use super::{Call, Client};
use crate::arcgis::wire::{PortalSelf, Properties};
use crate::arcgis::{Scope, SiteInfo};

impl Client {
    /// Version, scope and limits, as read since the last sign-in (read now when not yet).
    pub async fn site_info(&self) -> SiteInfo {
        if let Some(info) = self.site.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return info;
        }
        let info = self.read_site().await;
        *self.site.lock().unwrap_or_else(|p| p.into_inner()) = Some(info.clone());
        info
    }

    /// Three reads after each sign-in: the admin root's version, `portals/self` for the account's
    /// role (an account without admin rights sees only its own jobs), and the server's limits.
    /// A read that fails leaves its part unknown; it never fails the poll.
    pub(super) async fn read_site(&self) -> SiteInfo {
        let mut info = SiteInfo { version: self.version().await.ok(), ..SiteInfo::default() };
        match self.endpoints.portal_self() {
            Some(url) => match self.authed::<PortalSelf>(Call::get(url, vec![("f", "json".into())])).await {
                Ok(PortalSelf { user: Some(user), id, .. }) => {
                    info.portal_id = id.filter(|i| !i.is_empty());
                    info.scope = Some(if user.is_admin() { Scope::All } else { Scope::Own });
                    info.role = user.role.clone().or(user.role_id.clone());
                    info.user = user.username;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::info!(target_name = %self.name, error = %e, "cannot read portals/self; the account's scope is unknown")
                }
            },
            // Admin generateToken: the primary site administrator, who sees everything.
            None => info.scope = Some(Scope::All),
        }
        let limits = Call::get(self.endpoints.limits(), vec![("f", "json".into())]);
        match self.authed::<Properties>(limits).await {
            Ok(properties) => info.max_execute_minutes = properties.max_execute_minutes(),
            Err(e) => tracing::debug!(target_name = %self.name, error = %e, "cannot read the server's notebook limits"),
        }
        info
    }
}
