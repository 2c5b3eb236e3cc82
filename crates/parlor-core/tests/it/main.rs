//! parlor-core's integration tests, one binary (linked once): the knowledge engine measured
//! end to end on an in-memory stand-in for the databases' full-text indexes.

mod knowledge_eval;
mod memory_fts;
