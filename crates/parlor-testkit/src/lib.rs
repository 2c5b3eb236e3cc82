//! Dev-only test support shared by Parlor's crates: fakes of what Parlor talks to, a fresh
//! database per test on each backend, and shared suites. Never a dependency of a shipped
//! crate.

pub mod db;
pub mod fake_llm;
