//! A real broker for the tests: mosquitto with TLS on a free loopback port, and the clients
//! that play devices (mosquitto_pub, mosquitto_sub, openssl s_client), each run to completion
//! with a bounded wait.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::have_tool;
use crate::proxy::{dead_port, WAIT};
use crate::tls_peers::TempDir;

/// mosquitto lives in /usr/sbin on Debian, which is often not on a user's PATH. `None` when
/// it is missing (and `have_tool` has already failed the test under CI).
pub fn mosquitto_bin() -> Option<PathBuf> {
    if have_tool("mosquitto") {
        return Some(PathBuf::from("mosquitto"));
    }
    let sbin = Path::new("/usr/sbin/mosquitto");
    sbin.exists().then(|| sbin.to_path_buf())
}

pub struct Broker {
    child: Child,
    pub port: u16,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// mosquitto with TLS, `require_certificate true`, and any `extra` configuration lines.
pub fn broker(bin: &Path, dir: &TempDir, ca: &str, cert: &str, key: &str, extra: &str) -> Broker {
    let port = dead_port();
    let conf = dir.put(
        "mosquitto.conf",
        &format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\nrequire_certificate true\n{extra}"
        ),
    );
    let child = Command::new(bin)
        .args(["-c", &conf])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mosquitto");
    let deadline = Instant::now() + WAIT;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "mosquitto did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Broker { child, port }
}

/// Runs a device command to completion (bounded), feeding it `stdin`; true when it succeeded.
pub fn run_device(mut cmd: Command, stdin: &[u8]) -> bool {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the device");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin);
    }
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.success();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the device did not finish: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `mosquitto_pub` of one QoS 1 message to `topic` on localhost:`port`.
pub fn mosquitto_pub(
    port: u16,
    cafile: &str,
    cert: Option<(&str, &str)>,
    topic: &str,
    extra: &[&str],
) -> Command {
    let mut cmd = Command::new("mosquitto_pub");
    cmd.args([
        "-h",
        "localhost",
        "-p",
        &port.to_string(),
        "--cafile",
        cafile,
        "-t",
        topic,
        "-m",
        "hi",
        "-q",
        "1",
    ]);
    if let Some((c, k)) = cert {
        cmd.args(["--cert", c, "--key", k]);
    }
    cmd.args(extra);
    cmd
}
