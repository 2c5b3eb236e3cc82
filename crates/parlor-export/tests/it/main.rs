//! The export's one integration test binary: files are written through the public API and
//! read back with calamine (and, for what calamine does not report, straight from the zip).

mod helpers;
mod layout;
mod rows;
mod stream;
mod text;
