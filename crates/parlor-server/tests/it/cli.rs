//! The `parlor` binary itself: first start, the key file, a later start, and the operator
//! commands working on the same data dir.

use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn parlor() -> Command {
    Command::new(env!("CARGO_BIN_EXE_parlor"))
}

/// A port that was free a moment ago (the process binds it itself).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Spawns `parlor serve` on `port` with `extra` options (its stdout kept for [`stop`]),
/// without waiting for it.
pub(crate) fn spawn_serve(port: u16, extra: &[&std::ffi::OsStr]) -> std::process::Child {
    parlor()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn parlor")
}

/// Waits until something listens on `port` (polling a child process, which has no other way
/// to say it is ready).
pub(crate) fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "parlor did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `parlor serve` on `dir` and waits until it listens.
fn start(dir: &std::path::Path, port: u16) -> std::process::Child {
    let child = spawn_serve(port, &["--data-dir".as_ref(), dir.as_os_str()]);
    wait_listening(port);
    child
}

/// Stops a server with SIGTERM; checks it exits gracefully and returns what it printed.
pub(crate) fn stop(child: std::process::Child) -> String {
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "graceful exit on SIGTERM: {:?}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_bootstraps_once_and_cli_manages_keys() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = start(dir.path(), port);
    let key = std::fs::read_to_string(dir.path().join("admin-key")).unwrap().trim().to_string();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("admin-key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let client = reqwest::Client::new();
    let bots: Value = client
        .get(format!("http://127.0.0.1:{port}/api/chatbots/"))
        .header("Authorization", format!("Api-Key {key}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bots["count"], 1, "the demo chatbot");
    let out = stop(child);
    assert!(out.contains(&key), "the key is printed on first start");

    // A later start makes nothing new and prints no key.
    let child = start(dir.path(), port);
    let out = stop(child);
    assert!(!out.contains("prl_"), "{out}");
    assert_eq!(std::fs::read_to_string(dir.path().join("admin-key")).unwrap().trim(), key);

    // Operator commands on the same data dir.
    let out = parlor().args(["org", "create", "acme", "--data-dir"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success());
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let org = created["organization"].as_str().unwrap().to_string();
    assert!(created["apiKey"].as_str().unwrap().starts_with("prl_"));
    let out = parlor().args(["key", "create", "--org", &org, "--data-dir"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success());
    let out = parlor().args(["key", "list", "--org", &org, "--data-dir"]).arg(dir.path()).output().unwrap();
    let keys: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(keys.len(), 2);
    let first_key = created["apiKey"].as_str().unwrap().to_string();
    let id = keys[0]["id"].as_str().unwrap();
    let out = parlor().args(["key", "revoke", id, "--data-dir"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success());

    let child = start(dir.path(), port);
    let status = client
        .get(format!("http://127.0.0.1:{port}/api/chatbots/"))
        .header("Authorization", format!("Api-Key {first_key}"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401, "a revoked key is refused");
    stop(child);
}
