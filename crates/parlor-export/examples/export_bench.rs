//! Benchmark: exports N synthetic but realistic records to an `.xlsx` file, the way the server
//! does (batches pulled one after another into the constant-memory writer), and prints the
//! record count, wall time and file size.
//!
//! The records come from [`parlor_export::synthetic`], a deterministic generator (SplitMix64
//! seeded with the row number, a fixed word list) that `bench/openpyxl_export.py` reproduces
//! exactly, so both write the same rows and their time, peak memory and file size can be
//! compared:
//!
//! ```text
//! cargo build --release -p parlor-export --example export_bench
//! /usr/bin/time -v <target>/release/examples/export_bench 1000000 records.xlsx
//! /usr/bin/time -v python bench/openpyxl_export.py 1000000 records-openpyxl.xlsx
//! ```
//!
//! `--generate-only` runs the generator without writing, to separate its cost from the
//! writer's; `--level=N` sets the zip's deflate level (default
//! [`parlor_export::DEFAULT_COMPRESSION_LEVEL`]; openpyxl uses zlib's default, 6).

use chrono_tz::Tz;
use parlor_core::clock::Timestamp;
use parlor_core::model::Record;
use parlor_export::synthetic::{BASE_MS, record};
use parlor_export::{BoxError, ExportOptions, write_records};
use std::io::BufWriter;
use std::time::Instant;

/// Records per batch, as the server's keyset reader would fetch them.
const BATCH: u64 = 1000;

/// Batches of records `0..total`, `BATCH` at a time, as the server's keyset reader yields them.
fn batches(total: u64) -> impl FnMut() -> Result<Option<Vec<Record>>, BoxError> {
    let mut next = 0;
    move || {
        let end = (next + BATCH).min(total);
        let batch = (next..end).map(record).collect::<Result<Vec<_>, _>>()?;
        next = end;
        Ok(Some(batch))
    }
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let generate_only = args.iter().any(|a| a == "--generate-only");
    let mut positional = args.iter().filter(|a| !a.starts_with("--"));
    let rows: u64 = positional.next().map(|s| s.parse()).transpose()?.unwrap_or(1_000_000);
    let path = positional.next().map_or("records.xlsx", String::as_str);

    let start = Instant::now();
    if generate_only {
        let mut source = batches(rows);
        let mut chars = 0;
        while let Some(batch) = source()?.filter(|b| !b.is_empty()) {
            chars += batch.iter().map(|r| r.output_message.len()).sum::<usize>();
        }
        eprintln!("generated {rows} records ({chars} output bytes) in {:.2?}", start.elapsed());
        return Ok(());
    }

    let mut opts = ExportOptions::new(
        Tz::Europe__Paris,
        "Bench bot",
        Timestamp::from_micros(BASE_MS * 1000).ok_or("bad time")?,
    );
    if let Some(level) = args.iter().find_map(|a| a.strip_prefix("--level=")) {
        opts.compression_level = level.parse()?;
    }
    let out = BufWriter::with_capacity(64 * 1024, std::fs::File::create(path)?);
    let written = write_records(out, &opts, batches(rows))?;
    let size = std::fs::metadata(path)?.len();
    eprintln!("wrote {written} records to {path}: {size} bytes in {:.2?}", start.elapsed());
    Ok(())
}
