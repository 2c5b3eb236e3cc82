//! Pagination: keyset cursors for conversations and messages, page numbers for the rest.
//!
//! Cursors are keyset positions on `(createdAt, id)`, so a row added while a client pages
//! never makes it see a row twice or skip one, and page N costs what page 1 costs. The cursor
//! text is opaque to clients (base64url); a cursor that does not decode is the HTTP layer's
//! 404 `Invalid cursor`. Both backends fetch `page_size + 1` rows and hand them to
//! [`assemble`], so they page identically.

use crate::clock::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

/// Default page size (DRF's `PAGE_SIZE` of the original).
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Larger requested sizes are clamped to this.
pub const MAX_PAGE_SIZE: usize = 100;

/// Reads a `pageSize` query value: absent, non-numeric or < 1 gives the default; larger than
/// the maximum is clamped.
pub fn page_size(raw: Option<&str>) -> usize {
    match raw.and_then(|s| s.trim().parse::<i64>().ok()) {
        Some(n) if n >= 1 => (n as usize).min(MAX_PAGE_SIZE),
        _ => DEFAULT_PAGE_SIZE,
    }
}

/// A row's place in `(createdAt, id)` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub created_at: Timestamp,
    pub id: Uuid,
}

/// Where a page starts: strictly after `position` in list order (newest first), or strictly
/// before it when `reverse` (the `previous` link).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub position: Position,
    pub reverse: bool,
}

impl Cursor {
    /// The opaque text clients get.
    pub fn encode(&self) -> String {
        let raw = format!(
            "r={}&p={}.{}",
            u8::from(self.reverse),
            self.position.created_at.micros(),
            self.position.id.simple()
        );
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// `None` for anything [`Cursor::encode`] did not produce.
    pub fn decode(s: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()?;
        let raw = String::from_utf8(bytes).ok()?;
        let rest = raw.strip_prefix("r=")?;
        let (reverse, rest) = rest.split_once("&p=")?;
        let reverse = match reverse {
            "0" => false,
            "1" => true,
            _ => return None,
        };
        let (micros, id) = rest.split_once('.')?;
        let created_at = Timestamp::from_micros(micros.parse().ok()?)?;
        let id = Uuid::try_parse(id).ok()?;
        Some(Cursor { position: Position { created_at, id }, reverse })
    }
}

/// What a cursor-paged list asks the store for.
#[derive(Clone, Copy, Debug)]
pub struct CursorRequest {
    pub cursor: Option<Cursor>,
    pub page_size: usize,
}

impl CursorRequest {
    /// Rows a backend fetches: one more than a page, to learn whether another follows.
    pub fn fetch_limit(&self) -> i64 {
        self.page_size as i64 + 1
    }

    /// Whether the backend reads ascending (towards newer rows) from the cursor.
    pub fn is_reverse(&self) -> bool {
        self.cursor.is_some_and(|c| c.reverse)
    }
}

/// One page of a cursor-paged list, newest first.
#[derive(Clone, Debug)]
pub struct CursorPage<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
    pub previous: Option<Cursor>,
}

/// Builds a page from the rows a backend fetched: up to `page_size + 1` rows, newest first
/// for a forward request, oldest first for a reverse one.
pub fn assemble<T>(req: &CursorRequest, mut rows: Vec<T>, pos: impl Fn(&T) -> Position) -> CursorPage<T> {
    let more = rows.len() > req.page_size;
    rows.truncate(req.page_size);
    if req.is_reverse() {
        rows.reverse();
        let previous = (more && !rows.is_empty()).then(|| Cursor { position: pos(&rows[0]), reverse: true });
        let next = rows.last().map(|r| Cursor { position: pos(r), reverse: false });
        CursorPage { items: rows, next, previous }
    } else {
        let next = if more { rows.last().map(|r| Cursor { position: pos(r), reverse: false }) } else { None };
        let previous = if req.cursor.is_some() {
            rows.first().map(|r| Cursor { position: pos(r), reverse: true })
        } else {
            None
        };
        CursorPage { items: rows, next, previous }
    }
}

/// What a page-number list asks the store for.
#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    /// 1-based.
    pub page: usize,
    pub page_size: usize,
}

impl PageRequest {
    pub fn offset(&self) -> i64 {
        i64::try_from(self.page.saturating_sub(1).saturating_mul(self.page_size)).unwrap_or(i64::MAX)
    }

    pub fn limit(&self) -> i64 {
        self.page_size as i64
    }
}

/// One page of a page-number list, with the total.
#[derive(Clone, Debug)]
pub struct NumberPage<T> {
    pub count: i64,
    pub items: Vec<T>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            position: Position {
                created_at: Timestamp::from_micros(1_700_000_000_123_456).unwrap(),
                id: Uuid::now_v7(),
            },
            reverse: true,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        assert_eq!(Cursor::decode("garbage"), None);
        assert_eq!(Cursor::decode(""), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("r=2&p=1.x")), None);
    }

    #[test]
    fn page_size_rules() {
        assert_eq!(page_size(None), 20);
        assert_eq!(page_size(Some("abc")), 20);
        assert_eq!(page_size(Some("0")), 20);
        assert_eq!(page_size(Some("-3")), 20);
        assert_eq!(page_size(Some("7")), 7);
        assert_eq!(page_size(Some("1000")), 100);
    }
}
