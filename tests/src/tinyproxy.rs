//! tinyproxy as a real HTTP proxy: started on a free loopback port with a configuration the
//! test writes (which ports CONNECT may reach, credentials), stopped when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::pki::Dir;
use crate::proxy::{dead_port, WAIT};

/// True when tinyproxy is installed. In CI a missing tinyproxy fails the test (see
/// [`crate::have_tool`]).
pub fn have_tinyproxy() -> bool {
    crate::have_tool("tinyproxy")
}

pub struct TinyProxy {
    child: Child,
    pub port: u16,
    log: std::path::PathBuf,
}

impl TinyProxy {
    /// tinyproxy on 127.0.0.1, accepting clients from loopback, with `extra` configuration
    /// lines (`ConnectPort 443`, `BasicAuth user password` …); once it listens.
    pub fn start(dir: &Dir, extra: &str) -> TinyProxy {
        let port = dead_port();
        let log = dir.join("tinyproxy.log");
        let conf = dir.put(
            "tinyproxy.conf",
            &format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogLevel Info\nLogFile \"{}\"\nAllow 127.0.0.1\n{extra}",
                log.display()
            ),
        );
        let child = Command::new("tinyproxy")
            .args(["-d", "-c", &conf])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tinyproxy");
        let proxy = TinyProxy { child, port, log };
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "tinyproxy did not listen on {port}: {}",
                proxy.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        proxy
    }

    /// What tinyproxy logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for TinyProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
