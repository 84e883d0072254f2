//! Finding the Python the multi-lang tests run: `python3` for the scripted processes, and the
//! venv with pystorm that `.ci/run` makes. Missing on CI is a failure; elsewhere the test is
//! skipped with a message.

use std::path::PathBuf;

/// Whether `python` runs `check` (Python code) successfully.
fn works(python: &str, check: &str) -> bool {
    std::process::Command::new(python)
        .args(["-c", check])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn missing(what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is missing on CI: .ci/run should have installed it"
    );
    eprintln!("SKIPPED: {what} is not installed (see .ci/run)");
}

/// `python3`, if installed.
pub fn python3() -> Option<&'static str> {
    let found = works("python3", "pass");
    if !found {
        missing("python3");
    }
    found.then_some("python3")
}

/// The Python with pystorm: `$SQUALL_PYSTORM_PYTHON`, else `target/pystorm-venv/bin/python`.
pub fn pystorm() -> Option<String> {
    let python = std::env::var("SQUALL_PYSTORM_PYTHON").unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/pystorm-venv/bin/python")
            .display()
            .to_string()
    });
    let found = works(&python, "import pystorm");
    if !found {
        missing(&format!("a Python with pystorm at {python}"));
    }
    found.then_some(python)
}
