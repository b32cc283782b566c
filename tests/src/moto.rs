//! moto_server, the AWS API emulator, as the account behind `--aws`: started from the virtual
//! environment on a free loopback port with AWS IoT certificate IDs computed as AWS does
//! (`captures/account/moto_server_valid_cert.py`), set up with the lab account
//! (`captures/account/moto-setup.sh`), stopped when dropped or when the test binary exits.
//!
//! One server per test binary ([`lab`]): set-up takes seconds (one AWS CLI process per step),
//! and the tests that share it only read, or change a certificate in a region of their own.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The dummy credentials the tests use, and the variables that keep the SDK and the AWS CLI
/// away from this machine's own AWS set-up and from the instance metadata service.
pub fn dummy_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        (
            "AWS_CONFIG_FILE",
            "/nonexistent/iotscope-test-aws-config".into(),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/iotscope-test-aws-credentials".into(),
        ),
        ("AWS_PAGER", String::new()),
    ]
}

/// The variables a test removes so that only what it sets counts.
pub const CLEARED_ENV: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_IOT",
    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
];

/// A running moto_server.
pub struct Moto {
    /// The `sh` that owns the server: it stops it when its standard input closes.
    keeper: Child,
    stdin: Option<ChildStdin>,
    /// moto's working directory and recording, removed when the server stops.
    scratch: PathBuf,
    pub port: u16,
    pub url: String,
}

impl Moto {
    /// Starts a server, or `None` (a skip) outside CI when the virtual environment lacks it.
    pub fn start() -> Option<Moto> {
        let python = crate::venv::python_with("moto.server")?;
        let script = crate::root().join("captures/account/moto_server_valid_cert.py");
        let port = crate::proxy::dead_port();
        // moto's request recorder writes to `moto_recording` in its working directory unless
        // told otherwise: one file per server, outside the work tree.
        let scratch =
            std::env::temp_dir().join(format!("iotscope-moto-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&scratch).expect("moto's scratch directory");
        // The server runs under a shell that kills it when the test process's end of its
        // standard input closes, so a test binary that exits (or panics) leaves no server, and
        // then removes its scratch directory.
        let mut keeper = Command::new("sh")
            .args([
                "-c",
                "\"$0\" \"$1\" -H 127.0.0.1 -p \"$2\" >/dev/null 2>&1 & s=$!; read _; kill $s; wait $s; rm -rf \"$3\"",
            ])
            .arg(&python)
            .arg(&script)
            .arg(port.to_string())
            .arg(&scratch)
            .current_dir(&scratch)
            .env("MOTO_RECORDER_FILEPATH", scratch.join("recording.jsonl"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let stdin = keeper.stdin.take();
        let moto = Moto {
            keeper,
            stdin,
            scratch,
            port,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + crate::proxy::WAIT;
        while moto.get("/moto-api/").is_none() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(moto)
    }

    /// Sets up the lab account (captures/account/moto-setup.sh).
    pub fn set_up_lab(&self) {
        let script = crate::root().join("captures/account/moto-setup.sh");
        let out = Command::new("sh")
            .arg(&script)
            .arg(&self.url)
            .envs(dummy_env())
            .env("IOTSCOPE_VENV", crate::venv::dir())
            .output()
            .expect("run moto-setup.sh");
        assert!(
            out.status.success(),
            "moto-setup.sh failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs the virtual environment's AWS CLI against this server in `region`; its JSON output.
    pub fn aws(&self, region: &str, args: &[&str]) -> Value {
        let aws = crate::venv::bin("aws").expect("the AWS CLI in the virtual environment");
        let out = Command::new(aws)
            .args([
                "--endpoint-url",
                &self.url,
                "--region",
                region,
                "--output",
                "json",
            ])
            .args(args)
            .envs(dummy_env())
            .output()
            .expect("run the AWS CLI");
        assert!(
            out.status.success(),
            "aws {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// Starts moto's request recorder (done once by [`lab`], after the set-up).
    pub fn start_recording(&self) {
        self.post("/moto-api/recorder/start-recording");
    }

    /// The requests recorded since [`Moto::start_recording`]: method, path and the region of
    /// the request's signature each. Tests share the recorder, so each counts requests in a
    /// region only it uses.
    pub fn recorded(&self) -> Vec<Recorded> {
        let body = self
            .get("/moto-api/recorder/download-recording")
            .unwrap_or_default();
        body.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .map(|v| {
                let url = v["url"].as_str().unwrap_or_default();
                let path = url
                    .split_once("://")
                    .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
                    .unwrap_or_default();
                // Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request
                let region = v["headers"]["Authorization"]
                    .as_str()
                    .or(v["headers"]["authorization"].as_str())
                    .and_then(|a| a.split("Credential=").nth(1))
                    .and_then(|c| c.split('/').nth(2))
                    .unwrap_or_default()
                    .to_string();
                Recorded {
                    method: v["method"].as_str().unwrap_or_default().to_string(),
                    path,
                    region,
                }
            })
            .filter(|r| !r.path.starts_with("/moto-api"))
            .collect()
    }

    fn get(&self, path: &str) -> Option<String> {
        http(self.port, "GET", path)
    }

    fn post(&self, path: &str) -> Option<String> {
        http(self.port, "POST", path)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"stop\n");
        }
        let _ = self.keeper.wait();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// One request moto answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub region: String,
}

/// The lab account in one moto_server shared by the tests of this binary, or `None` (a skip)
/// outside CI without the virtual environment.
pub fn lab() -> Option<&'static Moto> {
    static LAB: OnceLock<Option<Moto>> = OnceLock::new();
    LAB.get_or_init(|| {
        let moto = Moto::start()?;
        moto.set_up_lab();
        moto.start_recording();
        Some(moto)
    })
    .as_ref()
}

/// A bare HTTP/1.0 request to 127.0.0.1:`port`; the body of a 2xx answer.
fn http(port: u16, method: &str, path: &str) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let ok = head
        .split_whitespace()
        .nth(1)
        .is_some_and(|code| code.starts_with('2'));
    ok.then(|| body.to_string())
}

/// Where the lab's files are.
pub fn account_dir() -> PathBuf {
    crate::root().join("captures/account")
}
