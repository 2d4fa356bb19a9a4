//! nbwarden: a watchdog for ArcGIS Enterprise notebook jobs.
//!
//! The pipeline reads `arcgis` (poll) → diff → rules → dispatch → actions, with the store beside it;
//! `config` reads `nbwarden.yaml`, `simulator` serves a simulated ArcGIS site for demos and tests.

pub mod actions;
pub mod activity;
pub mod arcgis;
pub mod chart;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cycle;
pub mod diff;
pub mod dispatch;
pub mod engine;
pub mod files;
pub mod journal;
pub mod ledger;
pub mod page;
pub mod plan;
pub mod replay;
pub mod report;
pub mod rules;
pub mod scheduler;
pub mod secret;
pub mod silence;
pub mod simulator;
pub mod status;
pub mod store;
pub mod task_diff;
pub mod telemetry;
#[cfg(test)]
mod test_support;
pub mod text;
pub mod usual;
