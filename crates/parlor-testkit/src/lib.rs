//! Dev-only test support shared by Parlor's crates: fakes of what Parlor talks to, and
//! shared suites. Never a dependency of a shipped crate.

pub mod fake_llm;
