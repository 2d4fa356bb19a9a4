//! The one integration-test binary: the client and the CLI against the simulator and local servers.

mod cli;
mod client;
mod daemon;
mod faults;
mod notify;
mod pipeline;
mod replicas;
mod security;
mod util;
