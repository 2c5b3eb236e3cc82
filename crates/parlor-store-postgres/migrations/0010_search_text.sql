-- Search text kept up to date with the code that writes it.
--
-- The full-text indexes hold text normalized in Rust (parlor_core::search::normalize), which
-- SQL cannot compute. `search_text_version` says which version of that code wrote what the
-- database holds; when the store opens on an older one it re-normalizes every indexed text
-- (search_text.rs) and records the new version. Version 1: lowercased; 2: accents removed too.
CREATE TABLE parlor_meta (
    key   text PRIMARY KEY,
    value bigint NOT NULL
);
INSERT INTO parlor_meta (key, value) VALUES ('search_text_version', 1);

-- A contact's name, email and phone number case-folded (parlor_core::model::
-- contact_search_text), for the contacts list's `query`: lower() follows the database's
-- locale, so the same query could match other contacts than on SQLite.
-- Filled for existing contacts by the re-normalization above.
ALTER TABLE contacts ADD COLUMN search_folded text NOT NULL DEFAULT '';
