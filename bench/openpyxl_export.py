"""Benchmark baseline: the record export written with openpyxl's write-only mode.

Writes the same synthetic records as `crates/parlor-export/examples/export_bench.rs` (the
generator below is a line-for-line port: SplitMix64 seeded with the row number, the same
word list, the same draws in the same order), with the same sheet layout: bold frozen
header with an autofilter, column widths, a real date-time for "Created at" in
Europe/Paris, text cleaned of XML-illegal characters and cut at 32,767 characters,
formula-like text kept as text, a new sheet past 1,048,576 rows.

By default cells carry no per-cell style (openpyxl's fastest path, so the comparison
favours openpyxl); `--styled` adds the Rust writer's per-cell formats (top alignment,
wrapped long text, number formats) through WriteOnlyCell.

`--no-scores` leaves the six score cells empty, as the server's export of unevaluated
records does (`parlor-bench --only records` runs it so, beside the server's export).

    python bench/openpyxl_export.py [ROWS] [PATH] [--styled] [--no-scores] [--generate-only]

Needs `pip install openpyxl`.
"""

import sys
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font

BATCH = 1000
BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
MASK = (1 << 64) - 1
EXCEL_MAX_ROWS = 1_048_576
MAX_CELL_CHARS = 32_767
ZONE = ZoneInfo("Europe/Paris")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

WORDS = [
    "account", "password", "reset", "settings", "security", "email", "billing", "invoice", "plan",
    "upgrade", "cancel", "refund", "order", "shipping", "delivery", "address", "payment", "card",
    "login", "two-factor", "code", "verify", "profile", "update", "notification", "mobile", "app",
    "browser", "error", "message", "support", "ticket", "agent", "chat", "history", "export",
    "report", "team", "member", "invite", "role", "permission", "admin", "workspace", "project",
    "document", "upload", "file", "limit", "storage", "quota", "trial", "discount", "coupon",
    "language", "time zone", "calendar", "integration", "webhook", "API", "key", "token", "usage",
    "dashboard",
]

HEADERS = [
    "ID", "Input", "Condensed input", "Type", "Reference", "Output", "Faithfulness",
    "Answer relevancy", "Context precision", "Answer correctness", "Answer similarity",
    "Context recall", "Reply time (s)", "Created at", "Conversation", "Contact",
]
WIDTHS = [38, 50, 40, 9, 60, 60, 13, 13, 13, 13, 13, 13, 13, 20, 38, 38]
LONG_TEXT = {1, 2, 4, 5}


class Rng:
    """SplitMix64, as in the Rust example."""

    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def range(self, lo, hi):
        return lo + self.next() % (hi - lo + 1)

    def uuid(self):
        a, b = self.next(), self.next()
        return "%08x-%04x-7%03x-%04x-%012x" % (
            a >> 32, (a >> 16) & 0xFFFF, a & 0xFFF, ((b >> 48) & 0x3FFF) | 0x8000, b & 0xFFFFFFFFFFFF,
        )

    def sentence(self, lo, hi, end):
        n = self.range(lo, hi)
        text = " ".join(WORDS[self.next() % 64] for _ in range(n))
        return text[0].upper() + text[1:] + end

    def score(self):
        v = self.next()
        return None if v % 5 == 0 else ((v >> 11) % 1001) / 1000.0


def record(i):
    """The i-th synthetic record, as a row of the sheet's 16 columns (before cleaning)."""
    rng = Rng(i)
    rid = rng.uuid()
    conversation = rng.uuid()
    contact = None if rng.next() % 4 == 0 else rng.uuid()
    question = rng.sentence(8, 20, "?")
    condensed = rng.sentence(6, 12, "?") if rng.next() % 3 == 0 else question
    kind = "New" if rng.next() % 5 == 0 else "Follow"
    if rng.next() % 10 == 0:
        context = None
    else:
        n = rng.range(2, 4)
        context = "\n\n".join(rng.sentence(15, 30, ".") for _ in range(n))
    n = rng.range(2, 5)
    output = " ".join(rng.sentence(8, 20, ".") for _ in range(n))
    scores = [rng.score() for _ in range(6)]
    reply_ms = rng.range(300, 20_299)
    reply_time = "%d.%03d" % (reply_ms // 1000, reply_ms % 1000)
    created_ms = BASE_MS + i * 2000 + rng.next() % 1000
    return [rid, question, condensed, kind, context, output, *scores, reply_time, created_ms,
            conversation, contact]


def clean(text):
    """Drop XML-illegal characters; cut at Excel's limit in UTF-16 units, pairs kept whole."""
    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    if len(text) > MAX_CELL_CHARS // 2 and len(text.encode("utf-16-le")) // 2 > MAX_CELL_CHARS:
        units, out = 0, []
        for ch in text:
            units += 2 if ord(ch) > 0xFFFF else 1
            if units > MAX_CELL_CHARS:
                break
            out.append(ch)
        text = "".join(out)
    return text


class Exporter:
    def __init__(self, styled):
        self.wb = Workbook(write_only=True)
        self.styled = styled
        self.sheets = 0
        self.rows_in_sheet = EXCEL_MAX_ROWS  # forces the first sheet
        self.ws = None
        self.bold = Font(bold=True)
        top = Alignment(vertical="top")
        wrap = Alignment(vertical="top", wrap_text=True)
        self.align = [wrap if c in LONG_TEXT else top for c in range(16)]

    def new_sheet(self):
        if self.ws is not None:
            self.ws.auto_filter.ref = "A1:P%d" % self.rows_in_sheet
        self.sheets += 1
        self.ws = self.wb.create_sheet("Records" if self.sheets == 1 else "Records %d" % self.sheets)
        for c, width in enumerate(WIDTHS):
            self.ws.column_dimensions[chr(ord("A") + c)].width = width
        self.ws.freeze_panes = "A2"
        header = []
        for text in HEADERS:
            cell = WriteOnlyCell(self.ws, value=text)
            cell.font = self.bold
            header.append(cell)
        self.ws.append(header)
        self.rows_in_sheet = 1

    def cell(self, col, value):
        if isinstance(value, str):
            value = clean(value)
            if value == "":
                return None
            if value[0] in "=+-@" or self.styled:
                cell = WriteOnlyCell(self.ws, value=value)
                cell.data_type = "s"  # never a formula
                if self.styled:
                    cell.alignment = self.align[col]
                return cell
            return value
        if self.styled and value is not None:
            cell = WriteOnlyCell(self.ws, value=value)
            cell.alignment = self.align[col]
            cell.number_format = "yyyy-mm-dd hh:mm:ss" if col == 13 else "0.000"
            return cell
        return value

    def write(self, row):
        if self.rows_in_sheet == EXCEL_MAX_ROWS:
            self.new_sheet()
        created_ms = row[13]
        local = (EPOCH + timedelta(milliseconds=created_ms)).astimezone(ZONE).replace(tzinfo=None)
        row[12] = float(row[12])
        row[13] = local
        self.ws.append([self.cell(c, v) for c, v in enumerate(row)])
        self.rows_in_sheet += 1

    def save(self, path):
        if self.ws is None:
            self.new_sheet()
        self.ws.auto_filter.ref = "A1:P%d" % self.rows_in_sheet
        self.wb.save(path)


def main():
    args = sys.argv[1:]
    positional = [a for a in args if not a.startswith("--")]
    rows = int(positional[0]) if positional else 1_000_000
    path = positional[1] if len(positional) > 1 else "records-openpyxl.xlsx"
    start = time.monotonic()
    if "--generate-only" in args:
        total = sum(len(record(i)[5]) for i in range(rows))
        print("generated %d records (%d output bytes) in %.2fs" % (rows, total, time.monotonic() - start),
              file=sys.stderr)
        return
    exporter = Exporter("--styled" in args)
    no_scores = "--no-scores" in args
    for first in range(0, rows, BATCH):
        for i in range(first, min(first + BATCH, rows)):
            row = record(i)
            if no_scores:
                row[6:12] = [None] * 6
            exporter.write(row)
    exporter.save(path)
    import os
    print("wrote %d records to %s: %d bytes in %.2fs" % (rows, path, os.path.getsize(path),
                                                        time.monotonic() - start), file=sys.stderr)


if __name__ == "__main__":
    main()
