//! Organizations (tenants) and their API keys.

use crate::clock::Timestamp;
use crate::id::{ApiKeyId, OrgId};
use serde::Serialize;

/// A tenant. Every other resource belongs to exactly one.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub created_at: Timestamp,
}

/// An API key as listed: never the key itself, only its id and a recognisable prefix.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub org: OrgId,
    pub name: String,
    /// The first characters of the key, so an operator can tell keys apart.
    pub prefix: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}
