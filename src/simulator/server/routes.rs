//! The simulator's routes: which endpoint a path of each flavor names.

use super::super::scenario::Route;
use crate::config::Flavor;

/// The endpoints of both flavors.
#[derive(Debug, PartialEq)]
pub(super) enum Endpoint {
    PortalToken,
    AdminToken,
    User(String),
    Item(String),
    PortalSelf,
    AdminRoot,
    Limits,
    List,
    Job(String),
    Cancel(String),
    AllTasks(String),
    TaskRuns(String, String),
    Notebooks,
    NotebookHosts,
    /// A notebook: its deployment (Kubernetes) and id.
    Notebook(Option<String>, String),
    CloseNotebook(Option<String>, String),
    Stats,
    Unknown,
}

impl Endpoint {
    pub(super) fn route(&self) -> Option<Route> {
        match self {
            Endpoint::PortalToken | Endpoint::AdminToken => Some(Route::Token),
            Endpoint::User(_) => Some(Route::User),
            Endpoint::List => Some(Route::List),
            Endpoint::Job(_) => Some(Route::Job),
            Endpoint::Cancel(_) => Some(Route::Cancel),
            _ => None,
        }
    }

    /// Notebook Server's admin API is for administrators only; Enterprise lets a notebook user list,
    /// read and cancel their own jobs, but not read the notebook configuration.
    pub(super) fn needs_admin(&self, flavor: Flavor) -> bool {
        match self {
            Endpoint::User(_) | Endpoint::Item(_) | Endpoint::PortalSelf => false,
            // An owner reads their own task's runs; an administrator anyone's.
            Endpoint::TaskRuns(..) => false,
            Endpoint::AdminRoot | Endpoint::List | Endpoint::Job(_) | Endpoint::Cancel(_) => {
                flavor == Flavor::NotebookServer
            }
            _ => true,
        }
    }

    /// Sharing endpoints answer errors in the Portal envelope, admin ones in the admin envelope.
    pub(super) fn portal_family(&self) -> bool {
        matches!(
            self,
            Endpoint::PortalToken
                | Endpoint::User(_)
                | Endpoint::Item(_)
                | Endpoint::PortalSelf
                | Endpoint::AllTasks(_)
                | Endpoint::TaskRuns(..)
        )
    }
}

/// Routes a path the way a web server does: percent-decoded first, then split, with `.` and `..`
/// resolved. An id the client failed to keep in one segment lands elsewhere (and is refused).
pub(super) fn route(flavor: Flavor, path: &str) -> Endpoint {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let mut s: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                s.pop();
            }
            segment => s.push(segment),
        }
    }
    match (flavor, s.as_slice()) {
        (_, ["__simulator", "stats"]) => Endpoint::Stats,
        (_, ["portal", "sharing", "rest", "generateToken"]) => Endpoint::PortalToken,
        (_, ["portal", "sharing", "rest", "community", "users", name]) => Endpoint::User(name.to_string()),
        (_, ["portal", "sharing", "rest", "portals", "self"]) => Endpoint::PortalSelf,
        (_, ["portal", "sharing", "rest", "content", "items", id]) => Endpoint::Item(id.to_string()),
        (_, ["portal", "sharing", "rest", "portals", id, "allScheduledTasks"]) => Endpoint::AllTasks(id.to_string()),
        (_, ["portal", "sharing", "rest", "community", "users", owner, "tasks", id, "runs"]) => {
            Endpoint::TaskRuns(owner.to_string(), id.to_string())
        }
        (Flavor::Enterprise, ["portal", "admin"]) | (Flavor::NotebookServer, ["arcgis", "admin"]) => {
            Endpoint::AdminRoot
        }
        (Flavor::Enterprise, ["portal", "admin", "notebooks", "configuration"])
        | (Flavor::NotebookServer, ["arcgis", "admin", "system", "properties"]) => Endpoint::Limits,
        (Flavor::NotebookServer, ["arcgis", "admin", "generateToken"]) => Endpoint::AdminToken,
        (Flavor::Enterprise, ["portal", "admin", "notebooks", "jobs"])
        | (Flavor::NotebookServer, ["arcgis", "admin", "system", "jobs"]) => Endpoint::List,
        (Flavor::Enterprise, ["portal", "admin", "notebooks", "jobs", id])
        | (Flavor::NotebookServer, ["arcgis", "admin", "system", "jobs", id]) => Endpoint::Job(id.to_string()),
        (Flavor::Enterprise, ["portal", "admin", "notebooks"])
        | (Flavor::NotebookServer, ["arcgis", "admin", "notebooks"]) => Endpoint::Notebooks,
        (Flavor::Enterprise, ["portal", "admin", "notebooks", "deployments"])
        | (Flavor::NotebookServer, ["arcgis", "admin", "system", "containers"]) => Endpoint::NotebookHosts,
        (Flavor::Enterprise, ["portal", "admin", "notebooks", "deployments", host, "notebooks", id]) => {
            Endpoint::Notebook(Some(host.to_string()), id.to_string())
        }
        (
            Flavor::Enterprise,
            ["portal", "admin", "notebooks", "deployments", host, "notebooks", id, "closeNotebook"],
        ) => Endpoint::CloseNotebook(Some(host.to_string()), id.to_string()),
        (Flavor::NotebookServer, ["arcgis", "admin", "notebooks", id]) => Endpoint::Notebook(None, id.to_string()),
        (Flavor::NotebookServer, ["arcgis", "admin", "notebooks", id, "closeNotebook"]) => {
            Endpoint::CloseNotebook(None, id.to_string())
        }
        (Flavor::Enterprise, ["portal", "admin", "notebooks", "jobs", id, "cancel"])
        | (Flavor::NotebookServer, ["arcgis", "admin", "system", "jobs", id, "cancel"]) => {
            Endpoint::Cancel(id.to_string())
        }
        _ => Endpoint::Unknown,
    }
}
