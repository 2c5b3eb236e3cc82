//! A per-process cache of API key lookups, so a request does not pay a database query to
//! learn who it is from.
//!
//! Entries live [`KEY_CACHE_TTL`] (one second): keys are revoked by `parlor key revoke`, in
//! another process that cannot tell this one, so a revoked key may still be accepted for up
//! to that long, never longer. Only keys found valid are cached; an unknown or revoked key is
//! looked up every time, so a key created a moment ago works at once. Entries are keyed by
//! the key's SHA-256 digest (the key itself is never kept) and bounded in number: when
//! full, expired entries go, and if none had expired, all go (a cache miss only costs the
//! query it saves).

use parlor_core::id::{ApiKeyId, OrgId};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a key found valid is trusted without asking the database again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(1);

/// Keys remembered at most.
pub const KEY_CACHE_CAPACITY: usize = 1024;

/// Valid keys seen lately, by digest: their organization and id, and when they were read.
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, (OrgId, ApiKeyId, Instant)>>,
}

impl Default for KeyCache {
    fn default() -> Self {
        KeyCache::new(KEY_CACHE_TTL, KEY_CACHE_CAPACITY)
    }
}

impl KeyCache {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        KeyCache { ttl, capacity: capacity.max(1), entries: Mutex::new(HashMap::new()) }
    }

    /// The key's organization and id, if it was read from the database less than the
    /// lifetime ago.
    pub fn get(&self, digest: &str) -> Option<(OrgId, ApiKeyId)> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let &(org, id, read_at) = entries.get(digest)?;
        (read_at.elapsed() < self.ttl).then_some((org, id))
    }

    /// Remembers a key the database just found valid; `read_at` is taken before the query,
    /// so the lifetime counts from no later than the moment the database answered.
    pub fn put(&self, digest: String, org: OrgId, id: ApiKeyId, read_at: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity && !entries.contains_key(&digest) {
            let ttl = self.ttl;
            entries.retain(|_, (_, _, at)| at.elapsed() < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(digest, (org, id, read_at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn ids() -> (OrgId, ApiKeyId) {
        (OrgId(Uuid::now_v7()), ApiKeyId(Uuid::now_v7()))
    }

    #[test]
    fn entries_expire() {
        let cache = KeyCache::new(Duration::from_millis(50), 8);
        let (org, id) = ids();
        cache.put("a".into(), org, id, Instant::now());
        assert_eq!(cache.get("a"), Some((org, id)));
        assert_eq!(cache.get("b"), None);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(cache.get("a"), None, "expired");
        // An entry read long ago is stale at once.
        cache.put("c".into(), org, id, Instant::now() - Duration::from_secs(1));
        assert_eq!(cache.get("c"), None);
    }

    #[test]
    fn size_is_bounded() {
        let cache = KeyCache::new(Duration::from_secs(60), 4);
        for i in 0..100 {
            let (org, id) = ids();
            cache.put(format!("k{i}"), org, id, Instant::now());
            assert!(cache.entries.lock().unwrap().len() <= 4);
        }
        assert!(cache.get("k99").is_some(), "the newest entry stays");
    }
}
