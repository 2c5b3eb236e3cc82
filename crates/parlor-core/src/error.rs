//! The storage layer's error: what a caller can branch on, and nothing about which database
//! produced it. Backends map their driver errors here (unique violations become
//! [`StoreError::Conflict`]) so the HTTP layer never sees sqlx.

/// Errors of [`crate::store::Store`] methods.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist in the caller's organization.
    #[error("not found")]
    NotFound,
    /// A reference given in input names no row of the caller's organization. The field is the
    /// API field name, so the HTTP layer can answer DRF's `{"field": ["Invalid pk ..."]}`.
    #[error("invalid reference {field}: {id}")]
    InvalidReference { field: &'static str, id: String },
    /// A unique constraint was violated.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else: the database is down, a query failed. Logged, never shown to clients.
    #[error("storage failure: {0}")]
    Backend(String),
}

impl StoreError {
    /// Wraps any backend error as [`StoreError::Backend`].
    pub fn backend(e: impl std::fmt::Display) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;
