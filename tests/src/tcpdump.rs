//! tcpdump on loopback for the tests that capture real peers with nothing of iotscope on the
//! path (it needs root or CAP_NET_RAW).

use std::process::Command;

use crate::proxy::WAIT;

/// tcpdump on loopback, writing `tcp port PORT` to `file`, until stopped with SIGINT.
///
/// `--immediate-mode`: without it libpcap hands packets over a block at a time, and a
/// capture stopped within the block's timeout (a second) can lose every packet.
pub struct Tcpdump {
    child: std::process::Child,
}

impl Tcpdump {
    pub fn start(port: u16, file: &str) -> Tcpdump {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new("tcpdump")
            .args(["-i", "lo", "-U", "--immediate-mode", "-s", "0", "-w", file])
            .arg(format!("tcp port {port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start tcpdump");
        // tcpdump says "listening on lo" once it captures.
        let err = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        loop {
            match rx.recv_timeout(WAIT) {
                Ok(line) if line.contains("listening on") => break,
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    panic!("tcpdump did not start capturing (it needs root or CAP_NET_RAW)");
                }
            }
        }
        Tcpdump { child }
    }

    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
