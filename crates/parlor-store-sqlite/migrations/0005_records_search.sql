-- Case-folded copies of each record's question and answer, for the records list's and
-- export's `userMessage`/`botMessage` filters. They hold parlor_core::model::fold_case of
-- the text, computed in Rust when the record is written, so a filter matches the same rows on
-- both databases: SQLite's lower() and LIKE fold ASCII only, and PostgreSQL's follow the
-- database's locale. Filters look for the folded filter text as a plain substring.
--
-- Rows written before this migration have NULL here; the store folds them when it opens
-- (records_unfolded finds them without reading the table, and stays empty afterwards, as
-- every new record is written with its foldings).

ALTER TABLE records ADD COLUMN input_folded TEXT;
ALTER TABLE records ADD COLUMN output_folded TEXT;
CREATE INDEX records_unfolded ON records(id) WHERE input_folded IS NULL;
