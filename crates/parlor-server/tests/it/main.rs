//! Integration tests of the server: the real app on a real socket over a fresh database,
//! once per backend (SQLite always; PostgreSQL when `PARLOR_TEST_DATABASE_URL` is set).

mod helpers;
mod instances;

mod auth;
mod cli;
mod completions;
mod conversations;
mod crash;
mod events;
mod first_start;
mod http2;
mod knowledge;
mod limits;
mod messages;
mod openapi;
mod operations;
mod pagination;
mod records;
mod replies;
mod resources;
mod shutdown;
mod sse;
mod streams;
mod uploads;
mod webhooks;
mod widget;
