//! `nbwarden simulate`: serve a simulated ArcGIS site until Ctrl-C.

use crate::config::Flavor;
use crate::simulator::{Scenario, Simulator};
use std::net::SocketAddr;
use std::path::Path;

/// Serves the scenario and prints how to point nbwarden at it.
pub async fn run(listen: SocketAddr, flavor: Option<&str>, scenario: Option<&Path>) -> anyhow::Result<()> {
    let scenario = match scenario {
        Some(path) => Scenario::load(path)?,
        None => Scenario::builtin(),
    };
    let flavor = match flavor {
        Some("notebook-server") => Flavor::NotebookServer,
        Some(_) => Flavor::Enterprise,
        None => scenario.flavor.unwrap_or(Flavor::Enterprise),
    };
    let handle = Simulator::start(&scenario, flavor, listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}; choose another address with --listen"))?;
    let admin = scenario.users.iter().find(|u| u.admin);
    println!("nbwarden simulator: {} site on http://{}", flavor.as_str(), handle.addr());
    println!("  admin_url   {}", handle.admin_url());
    println!("  portal_url  {}", handle.portal_url());
    if let Some(user) = admin {
        println!("  sign in as  {} / {}", user.username, user.password);
    }
    println!("  {} jobs in the scenario; Ctrl-C stops", scenario.jobs.len());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
