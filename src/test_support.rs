//! What the unit tests share with the integration tests (`tests/shared/`): a skip that cannot
//! hide, and the test PostgreSQL server.

#[path = "../tests/shared/skip.rs"]
mod skip;

pub use skip::skipped;

#[path = "../tests/shared/postgres.rs"]
pub mod postgres;
