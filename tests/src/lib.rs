//! Helpers shared by the end-to-end tests: where the binary and the captures are, and how to
//! run a replay and read its JSON Lines.

pub mod browser;
pub mod junit;
pub mod mosquitto;
pub mod moto;
pub mod mqtt_endpoint;
pub mod mqtt_script;
pub mod netns;
pub mod pki;
pub mod proxy;
pub mod qualify;
pub mod tcpdump;
pub mod tinyproxy;
pub mod tls_peers;
pub mod venv;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `captures/reference/`: the reference captures and their records of what happened.
pub fn reference_captures() -> PathBuf {
    let p = root().join("captures/reference");
    assert!(
        p.join("README.md").exists(),
        "the reference captures are missing at {}",
        p.display()
    );
    p
}

/// The `iotscope` binary the tests drive: `IOTSCOPE_BIN` when set (to test an installed
/// binary), else the one Cargo builds in this test's own target directory and profile.
///
/// Cargo gives `CARGO_BIN_EXE_*` only to the binary's own package, and this package is not
/// it; so the first call asks Cargo to build the binary (a no-op when it is up to date, as
/// it is after `cargo test --workspace`). That makes `cargo test -p iotscope-tests` work on
/// its own, never with a stale binary.
pub fn iotscope_path() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("IOTSCOPE_BIN") {
            return PathBuf::from(bin);
        }
        let exe = std::env::current_exe().expect("test binary path");
        // <target>/<profile>/deps/<test binary>
        let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
        let profile = profile_dir
            .file_name()
            .and_then(|p| p.to_str())
            .unwrap_or("debug");
        let profile = if profile == "debug" { "dev" } else { profile };
        let target_dir = profile_dir.parent().expect("target dir");
        let status = Command::new(env!("CARGO"))
            .current_dir(root())
            .args(["build", "--quiet", "-p", "iotscope", "--bin", "iotscope"])
            .args(["--profile", profile])
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("run cargo to build the iotscope binary");
        assert!(
            status.success(),
            "cargo could not build the iotscope binary"
        );
        let bin = profile_dir.join(format!("iotscope{}", std::env::consts::EXE_SUFFIX));
        assert!(
            bin.exists(),
            "{} is missing after cargo build",
            bin.display()
        );
        bin
    })
    .clone()
}

pub fn iotscope() -> Command {
    Command::new(iotscope_path())
}

/// Runs `iotscope ARGS` and returns its output, whatever the exit status.
pub fn run(args: &[&str]) -> Output {
    iotscope().args(args).output().expect("run iotscope")
}

/// `iotscope replay --format json ARGS`, parsed: one object per connection.
pub fn replay_json(args: &[&str]) -> (Vec<Value>, Output) {
    let mut all = vec!["replay", "--format", "json", "--quiet"];
    all.extend_from_slice(args);
    let out = run(&all);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let objects = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (objects, out)
}

/// The finding codes of one connection object.
pub fn codes(conn: &Value) -> Vec<String> {
    conn["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["code"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Findings of one severity.
pub fn codes_of(conn: &Value, severity: &str) -> Vec<String> {
    conn["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|f| f["severity"] == severity)
                .filter_map(|f| f["code"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The recorded facts of a lab capture (`lab/NAME.expect.json`).
pub fn expect(name: &str) -> Value {
    let p = reference_captures()
        .join("lab")
        .join(format!("{name}.expect.json"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// Our side names in the lab files' words.
pub fn side(sender: &str) -> &'static str {
    match sender {
        "device" => "client",
        "endpoint" => "broker",
        _ => "?",
    }
}

pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Handshake message names per side (client, broker), in tshark's words, from the events of
/// a connection replayed with `--events`. An unreadable TLS 1.2 Finished is `<encrypted>`.
pub fn handshake_names(conn: &Value) -> (Vec<String>, Vec<String>) {
    let mut client = Vec::new();
    let mut broker = Vec::new();
    for e in conn["events"].as_array().unwrap() {
        let name = match e["event"].as_str().unwrap() {
            "client_hello" | "server_hello" | "certificate" | "certificate_request" => {
                e["event"].as_str().unwrap().to_string()
            }
            "handshake" => e["kind"].as_str().unwrap().to_string(),
            "encrypted" if e["content_type"] == 22 => "<encrypted>".to_string(),
            _ => continue,
        };
        if e["dir"] == "device_to_endpoint" {
            client.push(name);
        } else {
            broker.push(name);
        }
    }
    (client, broker)
}

/// Panics unless the connection has a finding with `code`.
pub fn assert_has(conn: &Value, name: &str, code: &str) {
    assert!(
        codes(conn).iter().any(|c| c == code),
        "{name}: expected {code}, got {:?}",
        conn["findings"]
    );
}

/// Panics when the connection has a finding of severity error.
pub fn assert_no_error(conn: &Value, name: &str) {
    assert!(
        codes_of(conn, "error").is_empty(),
        "{name}: unexpected errors {:?}",
        conn["findings"]
    );
}

/// The connection's alerts as (sender in the lab files' words, name or `<encrypted>`).
pub fn alerts(conn: &Value) -> Vec<(String, String)> {
    conn["tls"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let name = a["name"].as_str().unwrap_or("<encrypted>").to_string();
            (side(a["from"].as_str().unwrap()).to_string(), name)
        })
        .collect()
}

/// The alerts a lab file's view lists, in the same form.
pub fn expected_alerts(tls_view: &Value) -> Vec<(String, String)> {
    tls_view["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["sent_by"].as_str().unwrap().to_string(),
                a["description"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The handshake messages per side and the alerts of a replayed connection equal what a lab
/// file's TLS view (`wire_view_without_keys.tls` or `decrypted_view_with_keys.tls`) lists.
pub fn assert_handshake_and_alerts(conn: &Value, tls_view: &Value, name: &str) {
    let (client, broker) = handshake_names(conn);
    let want = &tls_view["handshake_messages"];
    assert_eq!(client, strings(&want["client"]), "{name}: client handshake");
    assert_eq!(broker, strings(&want["broker"]), "{name}: broker handshake");
    assert_eq!(alerts(conn), expected_alerts(tls_view), "{name}: alerts");
}

/// True when `tool` is on PATH. In CI (`CI` set) a missing tool fails the test instead of
/// letting it skip.
pub fn have_tool(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("{tool} is required in CI but is not installed (.ci/run installs it)");
        }
        eprintln!("{tool} is not installed: skipping the part of this test that needs it");
    }
    found
}

/// Attribute names as tshark prints them, in the short form OpenSSL and we use.
fn short_attr(a: &str) -> &str {
    match a {
        "commonName" => "CN",
        "organizationName" => "O",
        "organizationalUnitName" => "OU",
        "countryName" => "C",
        "stateOrProvinceName" => "ST",
        "localityName" => "L",
        "emailAddress" | "pkcs9-at-emailAddress" => "emailAddress",
        other => other,
    }
}

/// A distinguished name as a sorted list of `ATTR=value`, from either tshark's
/// `commonName=x,organizationName=y` or our `O=y, CN=x`. A comma starts a new attribute only
/// when `name=` follows it, since values may hold commas (`O=GitHub, Inc.`).
pub fn dn_parts(dn: &str) -> Vec<String> {
    let starts_attr = |rest: &str| {
        let rest = rest.trim_start();
        match rest.find('=') {
            Some(i) => {
                i > 0
                    && rest[..i]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            }
            None => false,
        }
    };
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut chars = dn.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    current.push(n);
                }
            }
            ',' if starts_attr(&dn[i + 1..]) => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    parts.push(current);
    let mut v: Vec<String> = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((a, val)) => format!("{}={}", short_attr(a.trim()), val.trim()),
            None => p.to_string(),
        })
        .collect();
    v.sort();
    v
}

/// The address after `marker` on the next of `lines` that has one: where a child (say,
/// `iotscope endpoint`) said on its standard error that it listens. Panics naming `what` when
/// the lines end first.
pub fn address_after(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    marker: &str,
    what: &str,
) -> std::net::SocketAddr {
    loop {
        let l = lines
            .next()
            .unwrap_or_else(|| panic!("{what}: no line with {marker:?}"))
            .unwrap();
        if let Some(a) = l.split(marker).nth(1) {
            return a.trim().parse().unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_with_commas_in_values() {
        assert_eq!(
            super::dn_parts(
                "commonName=www.github.com,organizationName=GitHub, Inc.,countryName=US"
            ),
            super::dn_parts("C=US, O=GitHub\\, Inc., CN=www.github.com")
        );
        assert_eq!(super::dn_parts("C=US, CN=x"), vec!["C=US", "CN=x"]);
    }
}
