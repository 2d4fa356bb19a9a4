//! The simulated ArcGIS site behind `nbwarden simulate`, the demo and the tests: both flavors,
//! tokens with referer binding and expiry, job timelines and injected faults.

pub mod scenario;
mod server;
pub mod site;

pub use scenario::{Ending, Fault, FaultKind, JobPlan, Route, Scenario, VersionField};
pub use server::{Simulator, SimulatorHandle};
