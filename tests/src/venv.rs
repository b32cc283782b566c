//! The Python tools the tests drive (moto_server, the AWS CLI, paho-mqtt, the AWS IoT Device
//! SDK v2), from one virtual environment that `.ci/run` makes: `$IOTSCOPE_VENV`, else
//! `~/.cache/iotscope-venv`. In CI (`CI` set) a missing tool fails the test instead of letting
//! it skip, as with [`crate::have_tool`].

use std::path::PathBuf;

/// The virtual environment's folder.
pub fn dir() -> PathBuf {
    if let Some(v) = std::env::var_os("IOTSCOPE_VENV") {
        return PathBuf::from(v);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/iotscope-venv")
}

/// The path of `name` in the environment's `bin/` (`moto_server`, `aws`, `python`), or `None`
/// (a skip) when it is missing outside CI.
pub fn bin(name: &str) -> Option<PathBuf> {
    let path = dir().join("bin").join(name);
    if path.exists() {
        return Some(path);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "{} is required in CI but is missing (.ci/run makes the virtual environment)",
            path.display()
        );
    }
    eprintln!(
        "{} is missing: skipping the part of this test that needs it",
        path.display()
    );
    None
}

/// The environment's Python, when `module` imports in it (`paho.mqtt.client`, `awsiot`).
pub fn python_with(module: &str) -> Option<PathBuf> {
    let python = bin("python")?;
    let ok = std::process::Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        return Some(python);
    }
    if std::env::var_os("CI").is_some() {
        panic!("the Python module {module} is required in CI but does not import (.ci/run installs it)");
    }
    eprintln!(
        "the Python module {module} is missing: skipping the part of this test that needs it"
    );
    None
}
