//! Headless Chromium for the UI tests: the DOM a page has once its scripts ran, and
//! screenshots. Chromium is Debian's `chromium` package, which `.ci/run` installs; elsewhere
//! the browser checks are skipped with a message when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Chromium's path, or `None` (with a message) when it is not installed. On CI it must be.
pub fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing on CI: .ci/run should have installed it"
        );
        eprintln!("SKIPPED browser checks: chromium is not installed (apt-get install chromium)");
    }
    found
}

fn headless(chromium: &Path) -> Command {
    let profile = tempfile::tempdir().expect("profile dir").keep();
    let mut cmd = Command::new(chromium);
    // The flags keep Chromium off the network (this machine has none) and out of a sandbox
    // that needs privileges CI does not grant; virtual time lets the page's fetches finish.
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=5000",
        // Test clusters serve the UI over HTTPS with their own throwaway CA.
        "--ignore-certificate-errors",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// The page's DOM after its scripts ran.
pub fn dump_dom(chromium: &Path, url: &str) -> String {
    let out = headless(chromium)
        .args(["--dump-dom", url])
        .output()
        .expect("run chromium");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Saves a screenshot of the page to `path`.
pub fn screenshot(chromium: &Path, url: &str, path: &Path) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("screenshot dir");
    }
    let status = headless(chromium)
        .arg("--window-size=1400,1700")
        .arg(format!("--screenshot={}", path.display()))
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        status.status.success() && path.exists(),
        "chromium saved no screenshot: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

/// Where CI artifacts go: `target/ui-screenshots/`.
pub fn artifact_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/ui-screenshots")
        .join(name)
}
