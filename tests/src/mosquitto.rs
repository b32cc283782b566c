//! mosquitto as a real peer: found on PATH or in /usr/sbin (Debian's place for it), started
//! on loopback ports with a configuration the test writes, stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pki::Dir;
use crate::proxy::{dead_port, WAIT};

/// The mosquitto binary. In CI a missing mosquitto fails the test (see [`crate::have_tool`]).
pub fn mosquitto_bin() -> Option<PathBuf> {
    if crate::have_tool("mosquitto") {
        return Some(PathBuf::from("mosquitto"));
    }
    let sbin = Path::new("/usr/sbin/mosquitto");
    sbin.exists().then(|| sbin.to_path_buf())
}

/// The lines of one TLS listener on 127.0.0.1.
pub fn tls_listener(
    port: u16,
    ca: &str,
    cert: &str,
    key: &str,
    require_certificate: bool,
) -> String {
    format!(
        "listener {port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\nrequire_certificate {require_certificate}\n"
    )
}

pub struct Broker {
    child: Child,
}

impl Broker {
    /// Starts mosquitto with `conf` (written into `dir`) and waits until each of `ports`
    /// accepts connections.
    pub fn start(bin: &Path, dir: &Dir, conf: &str, ports: &[u16]) -> Broker {
        let conf = dir.put("mosquitto.conf", conf);
        let child = Command::new(bin)
            .args(["-c", &conf])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        let broker = Broker { child };
        let deadline = Instant::now() + WAIT;
        for port in ports {
            while std::net::TcpStream::connect(("127.0.0.1", *port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "mosquitto did not listen on {port}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        broker
    }
}

impl Broker {
    /// The broker's process id, for a test that stops (SIGSTOP) or kills it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// mosquitto with TLS on a free port, `require_certificate true`, anonymous clients allowed,
/// and any `extra` configuration lines: the broker and its port.
pub fn broker(
    bin: &Path,
    dir: &Dir,
    ca: &str,
    cert: &str,
    key: &str,
    extra: &str,
) -> (Broker, u16) {
    let port = dead_port();
    let conf = format!(
        "allow_anonymous true\n{}{extra}",
        tls_listener(port, ca, cert, key, true)
    );
    (Broker::start(bin, dir, &conf, &[port]), port)
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
