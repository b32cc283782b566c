//! mosquitto as a real peer: found on PATH or in /usr/sbin (Debian's place for it), started
//! on loopback ports with a configuration the test writes, stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pki::Dir;
use crate::proxy::WAIT;

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

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
