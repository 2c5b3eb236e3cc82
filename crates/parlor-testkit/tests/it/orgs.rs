//! Organizations and API keys: the only methods not scoped to a caller's organization.

use crate::*;
use parlor_testkit::backend_tests;
use parlor_testkit::db::TestDb;

backend_tests!(creates_and_counts_orgs, |db: TestDb| async move {
    let s = &*db.store;
    assert_eq!(s.org_count().await.unwrap(), 0);
    let a = s.create_org("Acme").await.unwrap();
    let b = s.create_org("Beta").await.unwrap();
    assert_eq!(s.org_count().await.unwrap(), 2);

    let got = s.get_org(a.id).await.unwrap();
    assert_eq!((got.id, got.name.as_str(), got.created_at), (a.id, "Acme", a.created_at));
    assert_ne!(a.id, b.id);
    assert_not_found(s.get_org(OrgId::new()).await);
    s.ping().await.unwrap();
});

backend_tests!(creates_finds_lists_and_revokes_keys, |db: TestDb| async move {
    let s = &*db.store;
    let org = s.create_org("Acme").await.unwrap().id;
    let k1 = s.create_api_key(org, "ci", "hash-1", "pk_1").await.unwrap();
    let k2 = s.create_api_key(org, "ops", "hash-2", "pk_2").await.unwrap();
    assert_eq!((k1.org, k1.name.as_str(), k1.prefix.as_str(), k1.revoked_at), (org, "ci", "pk_1", None));

    let found = s.find_api_key("hash-1").await.unwrap().expect("active key");
    assert_eq!((found.id, found.created_at), (k1.id, k1.created_at));
    assert!(s.find_api_key("nope").await.unwrap().is_none());

    // Oldest first.
    let listed: Vec<_> = s.list_api_keys(org).await.unwrap().iter().map(|k| k.id).collect();
    assert_eq!(listed, vec![k1.id, k2.id]);

    // A digest is unique across organizations; an unknown organization gets no key.
    let other = s.create_org("Other").await.unwrap().id;
    assert!(matches!(s.create_api_key(other, "x", "hash-1", "pk").await, Err(StoreError::Conflict(_))));
    assert_not_found(s.create_api_key(OrgId::new(), "x", "hash-3", "pk").await);
    assert!(s.list_api_keys(other).await.unwrap().is_empty());

    let revoked = s.revoke_api_key(k1.id).await.unwrap();
    let at = revoked.revoked_at.expect("revoked");
    assert!(s.find_api_key("hash-1").await.unwrap().is_none());
    assert!(s.find_api_key("hash-2").await.unwrap().is_some());
    // Revoking again keeps the first time; revoked keys stay listed.
    assert_eq!(s.revoke_api_key(k1.id).await.unwrap().revoked_at, Some(at));
    let listed = s.list_api_keys(org).await.unwrap();
    assert_eq!(listed[0].revoked_at, Some(at));
    assert_not_found(s.revoke_api_key(ApiKeyId::new()).await);
});
