//! The URLs of each flavor (arcgis-api.md §1): pure string building, ids percent-encoded.

use crate::config::Flavor;

/// The URLs one target calls.
#[derive(Debug, Clone)]
pub struct Endpoints {
    flavor: Flavor,
    admin: String,
    portal: Option<String>,
}

impl Endpoints {
    /// From the admin root (and the portal root for Portal sign-in and user look-up).
    pub fn new(flavor: Flavor, admin_url: &str, portal_url: Option<&str>) -> Self {
        let trim = |u: &str| u.trim_end_matches('/').to_string();
        Endpoints { flavor, admin: trim(admin_url), portal: portal_url.map(trim) }
    }

    /// The flavor these URLs belong to.
    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The admin root.
    pub fn admin(&self) -> &str {
        &self.admin
    }

    /// `<admin>/notebooks/jobs` or `<admin>/system/jobs`.
    pub fn jobs(&self) -> String {
        match self.flavor {
            Flavor::Enterprise => format!("{}/notebooks/jobs", self.admin),
            Flavor::NotebookServer => format!("{}/system/jobs", self.admin),
        }
    }

    /// One job's resource.
    pub fn job(&self, id: &str) -> String {
        format!("{}/{}", self.jobs(), segment(id))
    }

    /// One job's cancel operation.
    pub fn cancel(&self, id: &str) -> String {
        format!("{}/cancel", self.job(id))
    }

    /// `<admin>/notebooks`: the open notebooks (paged on Notebook Server, all at once on Kubernetes).
    pub fn notebooks(&self) -> String {
        format!("{}/notebooks", self.admin)
    }

    /// The records that give each open notebook its runtime and opening time:
    /// `<admin>/system/containers` or `<admin>/notebooks/deployments`.
    pub fn notebook_hosts(&self) -> String {
        match self.flavor {
            Flavor::NotebookServer => format!("{}/system/containers", self.admin),
            Flavor::Enterprise => format!("{}/notebooks/deployments", self.admin),
        }
    }

    /// One open notebook's resource: `<admin>/notebooks/<id>` on Notebook Server,
    /// `<admin>/notebooks/deployments/<deployment>/notebooks/<id>` on Kubernetes.
    pub fn notebook(&self, notebook: &crate::arcgis::notebooks::OpenNotebook) -> String {
        match (&notebook.host, self.flavor) {
            (Some(crate::arcgis::notebooks::Host::Deployment(d)), Flavor::Enterprise) => {
                format!("{}/notebooks/deployments/{}/notebooks/{}", self.admin, segment(d), segment(&notebook.id))
            }
            _ => format!("{}/{}", self.notebooks(), segment(&notebook.id)),
        }
    }

    /// Query of the list call; `detailed` asks Enterprise 12.1+ for `details=true`.
    pub fn list_query(&self, detailed: bool, page_size: u32) -> Vec<(&'static str, String)> {
        let mut query = vec![("f", "json".to_string())];
        match self.flavor {
            Flavor::Enterprise if detailed => query.push(("details", "true".into())),
            Flavor::Enterprise => {}
            Flavor::NotebookServer => {
                query.extend([("detail", "true".into()), ("num", page_size.to_string()), ("sortByDate", "true".into())])
            }
        }
        query
    }

    /// Portal or admin `generateToken`.
    pub fn generate_token(&self) -> String {
        match &self.portal {
            Some(portal) => format!("{portal}/sharing/rest/generateToken"),
            None => format!("{}/generateToken", self.admin),
        }
    }

    /// `<portal>/sharing/rest/portals/self`, when a portal is configured.
    pub fn portal_self(&self) -> Option<String> {
        self.portal.as_ref().map(|p| format!("{p}/sharing/rest/portals/self"))
    }

    /// The server's notebook limits: `<admin>/notebooks/configuration` or `<admin>/system/properties`.
    pub fn limits(&self) -> String {
        match self.flavor {
            Flavor::Enterprise => format!("{}/notebooks/configuration", self.admin),
            Flavor::NotebookServer => format!("{}/system/properties", self.admin),
        }
    }

    /// `<portal>/home/item.html?id=<item>`: the item page an owner can open.
    pub fn item(&self, item_id: &str) -> Option<String> {
        let query: String = form_urlencoded::Serializer::new(String::new()).append_pair("id", item_id).finish();
        self.portal.as_ref().map(|p| format!("{p}/home/item.html?{query}"))
    }

    /// `<portal>/sharing/rest/portals/<id>/allScheduledTasks`: the org's scheduled tasks.
    pub fn all_tasks(&self, portal_id: &str) -> Option<String> {
        self.portal.as_ref().map(|p| format!("{p}/sharing/rest/portals/{}/allScheduledTasks", segment(portal_id)))
    }

    /// `<portal>/sharing/rest/community/users/<owner>/tasks/<id>/runs`: a task's runs.
    pub fn task_runs(&self, owner: &str, task_id: &str) -> Option<String> {
        let (owner, task) = (segment(owner), segment(task_id));
        self.portal.as_ref().map(|p| format!("{p}/sharing/rest/community/users/{owner}/tasks/{task}/runs"))
    }

    /// `<portal>/sharing/rest/content/items/<id>`: an item's title and owner.
    pub fn content_item(&self, item_id: &str) -> Option<String> {
        self.portal.as_ref().map(|p| format!("{p}/sharing/rest/content/items/{}", segment(item_id)))
    }

    /// `<portal>/sharing/rest/community/users/<name>`, when a portal is configured.
    pub fn user(&self, username: &str) -> Option<String> {
        self.portal.as_ref().map(|p| format!("{p}/sharing/rest/community/users/{}", segment(username)))
    }
}

/// Percent-encodes everything but `[A-Za-z0-9_-]`, so an id like `../x` stays one harmless segment.
pub fn segment(raw: &str) -> String {
    const KEPT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_');
    percent_encoding::utf8_percent_encode(raw, KEPT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_per_flavor() {
        let k8s = Endpoints::new(Flavor::Enterprise, "https://gis/portal/admin/", Some("https://gis/portal"));
        assert_eq!(k8s.job("j1"), "https://gis/portal/admin/notebooks/jobs/j1");
        assert_eq!(k8s.cancel("j1"), "https://gis/portal/admin/notebooks/jobs/j1/cancel");
        assert_eq!(k8s.generate_token(), "https://gis/portal/sharing/rest/generateToken");
        assert_eq!(k8s.user("joe").unwrap(), "https://gis/portal/sharing/rest/community/users/joe");
        assert_eq!(k8s.list_query(true, 9), vec![("f", "json".into()), ("details", "true".into())]);
        assert_eq!(k8s.portal_self().unwrap(), "https://gis/portal/sharing/rest/portals/self");
        assert_eq!(k8s.limits(), "https://gis/portal/admin/notebooks/configuration");
        assert_eq!(k8s.item("ab c&d").unwrap(), "https://gis/portal/home/item.html?id=ab+c%26d");

        let nbs = Endpoints::new(Flavor::NotebookServer, "https://nb:11443/arcgis/admin", None);
        assert_eq!(nbs.jobs(), "https://nb:11443/arcgis/admin/system/jobs");
        assert_eq!(nbs.generate_token(), "https://nb:11443/arcgis/admin/generateToken");
        assert_eq!(nbs.user("joe"), None);
        assert_eq!((nbs.item("x"), nbs.limits()), (None, "https://nb:11443/arcgis/admin/system/properties".into()));
        let query = nbs.list_query(false, 500);
        assert!(query.contains(&("num", "500".into())) && query.contains(&("detail", "true".into())));
    }

    #[test]
    fn hostile_ids_stay_one_segment() {
        assert_eq!(segment("../../admin"), "%2E%2E%2F%2E%2E%2Fadmin");
        assert_eq!(segment("a b?c#d"), "a%20b%3Fc%23d");
        assert_eq!(segment("jsmxx-qor_3"), "jsmxx-qor_3");
    }
}
