//! Organizations and their API keys, and the first-start lock.

use crate::rows::{get, opt_ts, ts};
use crate::{PgStore, map_err};
use parlor_core::clock;
use parlor_core::error::StoreResult;
use parlor_core::id::{ApiKeyId, OrgId};
use parlor_core::model::{ApiKey, Organization};
use parlor_core::store::FirstStartLock;
use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgRow};
use uuid::Uuid;

/// The first-start lock's keys, in the two-key form of advisory locks ("Boot", "Parl"): apart
/// from sqlx's migration lock (one key) and the conversation locks (whose first key is
/// "Parl").
const FIRST_START_LOCK: (i32, i32) = (0x426f_6f74, 0x5061_726c);

const KEY_COLS: &str = "id, org_id, name, prefix, created_at, revoked_at";

fn org_row(row: &PgRow) -> StoreResult<Organization> {
    Ok(Organization {
        id: get::<Uuid>(row, "id")?.into(),
        name: get(row, "name")?,
        created_at: ts(row, "created_at")?,
    })
}

fn key_row(row: &PgRow) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: get::<Uuid>(row, "id")?.into(),
        org: get::<Uuid>(row, "org_id")?.into(),
        name: get(row, "name")?,
        prefix: get(row, "prefix")?,
        created_at: ts(row, "created_at")?,
        revoked_at: opt_ts(row, "revoked_at")?,
    })
}

pub(crate) async fn create_org(s: &PgStore, name: &str) -> StoreResult<Organization> {
    let org = Organization { id: OrgId::new(), name: name.to_string(), created_at: clock::now() };
    sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(org.id.0)
        .bind(&org.name)
        .bind(org.created_at.0)
        .execute(&s.pool)
        .await
        .map_err(map_err)?;
    Ok(org)
}

pub(crate) async fn get_org(s: &PgStore, id: OrgId) -> StoreResult<Organization> {
    let row = sqlx::query("SELECT id, name, created_at FROM organizations WHERE id = $1")
        .bind(id.0)
        .fetch_one(&s.pool)
        .await
        .map_err(map_err)?;
    org_row(&row)
}

pub(crate) async fn org_count(s: &PgStore) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT count(*) FROM organizations").fetch_one(&s.pool).await.map_err(map_err)
}

/// A transaction holding the first-start lock, on a connection of its own.
struct FirstStart(PgConnection);

/// Opens a connection outside the pool (the bootstrap writes through the pool, which may be
/// one connection), begins a transaction and waits for the lock in it. The lock lasts until
/// the transaction ends: at [`FirstStartLock::release`], or when the connection closes
/// (dropped, or the instance died).
pub(crate) async fn lock_first_start(s: &PgStore) -> StoreResult<Box<dyn FirstStartLock>> {
    let mut conn = PgConnection::connect_with(&s.connect).await.map_err(map_err)?;
    sqlx::raw_sql("BEGIN").execute(&mut conn).await.map_err(map_err)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(FIRST_START_LOCK.0)
        .bind(FIRST_START_LOCK.1)
        .execute(&mut conn)
        .await
        .map_err(map_err)?;
    Ok(Box::new(FirstStart(conn)))
}

#[async_trait::async_trait]
impl FirstStartLock for FirstStart {
    async fn release(self: Box<Self>) -> StoreResult<()> {
        let FirstStart(mut conn) = *self;
        sqlx::raw_sql("COMMIT").execute(&mut conn).await.map_err(map_err)?;
        conn.close().await.map_err(map_err)
    }
}

/// Inserts through a SELECT of the organization, so an unknown organization inserts nothing
/// and answers `NotFound` (as SQLite does), and a reused digest is a `Conflict`.
pub(crate) async fn create_api_key(
    s: &PgStore,
    org: OrgId,
    name: &str,
    key_hash: &str,
    prefix: &str,
) -> StoreResult<ApiKey> {
    let sql = format!(
        "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, created_at)
         SELECT $1, id, $2, $3, $4, $5 FROM organizations WHERE id = $6
         RETURNING {KEY_COLS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(ApiKeyId::new().0)
        .bind(name)
        .bind(prefix)
        .bind(key_hash)
        .bind(clock::now().0)
        .bind(org.0)
        .fetch_one(&s.pool)
        .await
        .map_err(map_err)?;
    key_row(&row)
}

pub(crate) async fn find_api_key(s: &PgStore, key_hash: &str) -> StoreResult<Option<ApiKey>> {
    let sql = format!("SELECT {KEY_COLS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key_hash)
        .fetch_optional(&s.pool)
        .await
        .map_err(map_err)?;
    row.as_ref().map(key_row).transpose()
}

pub(crate) async fn list_api_keys(s: &PgStore, org: OrgId) -> StoreResult<Vec<ApiKey>> {
    let sql = format!("SELECT {KEY_COLS} FROM api_keys WHERE org_id = $1 ORDER BY created_at, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(org.0).fetch_all(&s.pool).await.map_err(map_err)?;
    rows.iter().map(key_row).collect()
}

/// Revoking twice keeps the first revocation time.
pub(crate) async fn revoke_api_key(s: &PgStore, id: ApiKeyId) -> StoreResult<ApiKey> {
    let sql = format!(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 RETURNING {KEY_COLS}"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(clock::now().0)
        .bind(id.0)
        .fetch_one(&s.pool)
        .await
        .map_err(map_err)?;
    key_row(&row)
}
