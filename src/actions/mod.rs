//! Actions stage: the closed set of action configurations and their plugins.

mod config;

pub use config::{ActionConfig, CancelConfig, LogConfig, LogLevel};
