//! Integration tests of the server: the real app on a real socket over a fresh database,
//! once per backend (SQLite always; PostgreSQL when `PARLOR_TEST_DATABASE_URL` is set).

mod helpers;

mod auth;
mod cli;
mod completions;
mod conversations;
mod knowledge;
mod messages;
mod pagination;
mod records;
mod resources;
