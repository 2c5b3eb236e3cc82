//! The first-start bootstrap when instances start together on an empty database: exactly one
//! of them makes the organization `default`, its demo chatbot and its admin key.
//!
//! Without the store's first-start lock each instance would see no organization and make its
//! own defaults (two `default` organizations, two admin keys).

use crate::cli::{free_port, spawn_serve, stop, wait_listening};
use parlor_core::page::PageRequest;
use parlor_core::store::Store;
use parlor_server::bootstrap;
use parlor_testkit::backend_tests;
use parlor_testkit::db::PG_URL_VAR;
use parlor_testkit::db::{Backend, TestDb};
use std::sync::Arc;

/// Bootstraps racing for one database.
const RACERS: usize = 4;

/// The organization count, and the chatbots and keys of the one organization there should be.
async fn defaults_made(store: &dyn Store, org: parlor_core::OrgId) -> (i64, usize, usize) {
    let page = PageRequest { page: 1, page_size: 100 };
    let bots = store.list_chatbots(org, page).await.unwrap();
    let keys = store.list_api_keys(org).await.unwrap();
    (store.org_count().await.unwrap(), bots.items.len(), keys.len())
}

backend_tests!(concurrent_first_starts_bootstrap_once, |db: TestDb| async move {
    // Arrange: one store per racer, as each instance has its own. PostgreSQL: separate pools
    // on the one database. SQLite: one process owns its file, so its racers share the store.
    let mut stores: Vec<Arc<dyn Store>> = vec![];
    for _ in 0..RACERS {
        match (db.backend, &db.database_url) {
            (Backend::Postgres, Some(url)) => {
                let options =
                    parlor_store_postgres::PgStoreOptions { max_connections: 2, ..Default::default() };
                stores.push(Arc::new(
                    parlor_store_postgres::PgStore::connect_with(url, options).await.unwrap(),
                ));
            }
            _ => stores.push(db.store.clone()),
        }
    }

    // Act: every racer bootstraps at once.
    let racers =
        stores.iter().cloned().map(|s| tokio::spawn(async move { bootstrap::run(s.as_ref(), None).await }));
    let results = futures::future::join_all(racers).await;

    // Assert: exactly one made the defaults, and there is one of each.
    let made: Vec<_> = results.into_iter().filter_map(|r| r.unwrap().unwrap()).collect();
    assert_eq!(made.len(), 1, "bootstraps that made the defaults");
    assert_eq!(defaults_made(db.store.as_ref(), made[0].org).await, (1, 1, 1));
    for s in stores {
        if !Arc::ptr_eq(&s, &db.store) {
            s.close().await;
        }
    }
});

/// Two `parlor serve` processes spawned at once on an empty PostgreSQL database: one prints
/// the first start's key, the other starts as on a database already set up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_starting_together_bootstrap_once() {
    let Some(db) = TestDb::new(Backend::Postgres).await else {
        eprintln!("skipped: {PG_URL_VAR} is not set");
        return;
    };
    let url = db.database_url.clone().expect("a PostgreSQL URL");
    let serve = |port: u16, dir: &str| {
        let dir = db.data_dir.path().join(dir);
        spawn_serve(port, &["--database-url".as_ref(), url.as_ref(), "--data-dir".as_ref(), dir.as_os_str()])
    };
    let (a_port, b_port) = (free_port(), free_port());
    let (a, b) = (serve(a_port, "a"), serve(b_port, "b"));
    wait_listening(a_port);
    wait_listening(b_port);
    let printed = [stop(a), stop(b)];
    let with_key = printed.iter().filter(|out| out.contains("prl_")).count();
    assert_eq!(with_key, 1, "instances that printed a first-start key: {printed:?}");
    assert_eq!(db.store.org_count().await.unwrap(), 1, "one organization `default`");
}
