//! The ArcGIS REST client (poll stage): jobs, tokens, both error envelopes, behind `JobSource`.

pub mod model;
pub mod wire;

pub use model::{Job, Phase, Status};
