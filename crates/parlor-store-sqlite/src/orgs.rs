//! Organizations and their API keys, and the first-start lock.

use crate::rows::{get, opt_ts, ts};
use crate::{SqliteStore, map_err};
use parlor_core::clock;
use parlor_core::error::StoreResult;
use parlor_core::id::{ApiKeyId, OrgId};
use parlor_core::model::{ApiKey, Organization};
use parlor_core::store::FirstStartLock;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

fn org_row(row: &SqliteRow) -> StoreResult<Organization> {
    Ok(Organization {
        id: get::<Uuid>(row, "id")?.into(),
        name: get(row, "name")?,
        created_at: ts(get(row, "created_at")?),
    })
}

fn key_row(row: &SqliteRow) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: get::<Uuid>(row, "id")?.into(),
        org: get::<Uuid>(row, "org_id")?.into(),
        name: get(row, "name")?,
        prefix: get(row, "prefix")?,
        created_at: ts(get(row, "created_at")?),
        revoked_at: opt_ts(get(row, "revoked_at")?),
    })
}

pub(crate) async fn create_org(s: &SqliteStore, name: &str) -> StoreResult<Organization> {
    let org = Organization { id: OrgId::new(), name: name.to_string(), created_at: clock::now() };
    sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES (?, ?, ?)")
        .bind(org.id.0)
        .bind(&org.name)
        .bind(org.created_at.micros())
        .execute(&s.write)
        .await
        .map_err(map_err)?;
    Ok(org)
}

pub(crate) async fn get_org(s: &SqliteStore, id: OrgId) -> StoreResult<Organization> {
    let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE id = ?")
        .bind(id.0)
        .fetch_one(&s.read)
        .await
        .map_err(map_err)?;
    org_row(&row)
}

pub(crate) async fn org_count(s: &SqliteStore) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT count(*) FROM organizations").fetch_one(&s.read).await.map_err(map_err)
}

/// The first-start lock of one process: its mutex guard. SQLite's own write lock cannot
/// serve, as the bootstrap writes through the one write connection it would hold.
struct FirstStart(tokio::sync::OwnedMutexGuard<()>);

pub(crate) async fn lock_first_start(s: &SqliteStore) -> StoreResult<Box<dyn FirstStartLock>> {
    Ok(Box::new(FirstStart(s.first_start.clone().lock_owned().await)))
}

#[async_trait::async_trait]
impl FirstStartLock for FirstStart {
    async fn release(self: Box<Self>) -> StoreResult<()> {
        drop(self.0);
        Ok(())
    }
}

pub(crate) async fn create_api_key(
    s: &SqliteStore,
    org: OrgId,
    name: &str,
    key_hash: &str,
    prefix: &str,
) -> StoreResult<ApiKey> {
    let row = sqlx::query(
        "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, created_at)
         SELECT ?, id, ?, ?, ?, ? FROM organizations WHERE id = ?
         RETURNING id, org_id, name, prefix, created_at, revoked_at",
    )
    .bind(ApiKeyId::new().0)
    .bind(name)
    .bind(prefix)
    .bind(key_hash)
    .bind(clock::now().micros())
    .bind(org.0)
    .fetch_one(&s.write)
    .await
    .map_err(map_err)?;
    key_row(&row)
}

pub(crate) async fn find_api_key(s: &SqliteStore, key_hash: &str) -> StoreResult<Option<ApiKey>> {
    let row = sqlx::query(
        "SELECT id, org_id, name, prefix, created_at, revoked_at FROM api_keys
         WHERE key_hash = ? AND revoked_at IS NULL",
    )
    .bind(key_hash)
    .fetch_optional(&s.read)
    .await
    .map_err(map_err)?;
    row.as_ref().map(key_row).transpose()
}

pub(crate) async fn list_api_keys(s: &SqliteStore, org: OrgId) -> StoreResult<Vec<ApiKey>> {
    let rows = sqlx::query(
        "SELECT id, org_id, name, prefix, created_at, revoked_at FROM api_keys
         WHERE org_id = ? ORDER BY created_at, id",
    )
    .bind(org.0)
    .fetch_all(&s.read)
    .await
    .map_err(map_err)?;
    rows.iter().map(key_row).collect()
}

pub(crate) async fn revoke_api_key(s: &SqliteStore, id: ApiKeyId) -> StoreResult<ApiKey> {
    let row = sqlx::query(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?
         RETURNING id, org_id, name, prefix, created_at, revoked_at",
    )
    .bind(clock::now().micros())
    .bind(id.0)
    .fetch_one(&s.write)
    .await
    .map_err(map_err)?;
    key_row(&row)
}
