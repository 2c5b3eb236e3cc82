//! Rows continue on a next sheet past the per-sheet cap, and big files switch to ZIP64.

use crate::helpers::{assert_row, export, open, options, part, records, sheet, text};
use calamine::Reader;
use chrono_tz::Tz;

#[test]
fn rows_roll_over_to_next_sheets_each_with_a_header() {
    let input = records(0..7);
    // Four rows a sheet: the header and three records.
    let opts = options(Tz::UTC).with_max_rows_per_sheet(4);

    let (bytes, rows) = export(&input, &opts);

    assert_eq!(rows, 7);
    assert_eq!(open(&bytes).sheet_names(), ["Records", "Records 2", "Records 3"]);
    let mut next = input.iter();
    for (name, height) in [("Records", 4), ("Records 2", 4), ("Records 3", 2)] {
        let range = sheet(&bytes, name);
        assert_eq!(range.height(), height, "{name}");
        assert_eq!(text(&range, 0, 0), "ID", "{name} has a header");
        for row in 1..height {
            assert_row(&range, row, next.next().unwrap(), Tz::UTC);
        }
    }
    assert!(next.next().is_none());
    for (n, filter) in [(1, "A1:P4"), (2, "A1:P4"), (3, "A1:P2")] {
        let xml = part(&bytes, &format!("xl/worksheets/sheet{n}.xml"));
        assert!(xml.contains(&format!(r#"<autoFilter ref="{filter}"/>"#)), "sheet {n}");
        assert!(xml.contains(r#"state="frozen""#), "sheet {n}");
    }
}

#[test]
fn a_full_last_sheet_does_not_open_an_empty_one() {
    let input = records(0..6);
    let (bytes, _) = export(&input, &options(Tz::UTC).with_max_rows_per_sheet(4));

    assert_eq!(open(&bytes).sheet_names(), ["Records", "Records 2"]);
    assert_eq!(sheet(&bytes, "Records 2").height(), 4);
}

#[test]
fn large_files_use_zip64_and_still_read_back() {
    let input = records(0..5);

    let (small, _) = export(&input, &options(Tz::UTC));
    let (large, _) = export(&input, &options(Tz::UTC).with_zip64_threshold(0));

    // ZIP64 adds an extra field (header id 0x0001, 16 bytes of sizes) to each local header,
    // whose sizes move to 64-bit data descriptors.
    let parts = zip::ZipArchive::new(std::io::Cursor::new(&small)).unwrap().len();
    assert!(large.len() >= small.len() + 20 * parts, "{} vs {}", large.len(), small.len());
    let range = sheet(&large, "Records");
    for (i, r) in input.iter().enumerate() {
        assert_row(&range, i + 1, r, Tz::UTC);
    }
}
