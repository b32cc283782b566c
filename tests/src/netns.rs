//! A three-namespace network for the gateway tests: a "device" namespace whose default route
//! goes through a "gateway" namespace to an "endpoint" namespace, joined by veth pairs.
//!
//! ```text
//!  device 10.231.1.2 ── 10.231.1.1 gateway 10.231.2.1 ── 10.231.2.2, .3 endpoint
//!         fd00:231:1::2    fd00:231:1::1   fd00:231:2::1    fd00:231:2::2
//! ```
//!
//! Names carry the test process's id and a tag per test, so parallel tests and runs never
//! meet; everything is deleted on drop, also when the test fails, and namespaces left by a
//! run that was killed outright are swept at the next start. Only addresses inside these
//! namespaces are used. Needs root, iproute2 and `ss`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::have_tool;

pub const DEVICE: &str = "10.231.1.2";
pub const GATEWAY_DEVICE_SIDE: &str = "10.231.1.1";
pub const GATEWAY_ENDPOINT_SIDE: &str = "10.231.2.1";
pub const ENDPOINT: &str = "10.231.2.2";
/// A second address of the endpoint namespace: a destination that `--allow` leaves out.
pub const ENDPOINT_OTHER: &str = "10.231.2.3";
pub const DEVICE6: &str = "fd00:231:1::2";
pub const GATEWAY6_DEVICE_SIDE: &str = "fd00:231:1::1";
pub const GATEWAY6_ENDPOINT_SIDE: &str = "fd00:231:2::1";
pub const ENDPOINT6: &str = "fd00:231:2::2";

const PREFIX: &str = "iotscope-gw-";

/// True when this machine can make network namespaces: root and `ip`. Where it cannot, the
/// test skips, except in CI (`CI` set), where it fails.
pub fn available() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1))
                == Some("0")
        })
        .unwrap_or(false);
    if !root {
        if std::env::var_os("CI").is_some() {
            panic!("the gateway tests need root (network namespaces); CI runs as root");
        }
        eprintln!("not root: skipping this gateway test (it needs network namespaces)");
        return false;
    }
    have_tool("ip") && have_tool("ss")
}

pub struct Lab {
    pub device: String,
    pub gateway: String,
    pub endpoint: String,
}

impl Lab {
    /// Builds the three namespaces; `tag` (a letter) tells this test's apart from others'.
    pub fn new(tag: char) -> Lab {
        sweep_stale();
        let pid = std::process::id();
        let name = |role: &str| format!("{PREFIX}{pid}-{tag}-{role}");
        let lab = Lab {
            device: name("device"),
            gateway: name("gateway"),
            endpoint: name("endpoint"),
        };
        // veth names have at most 15 bytes.
        let veth = |end: &str| format!("v{pid}{tag}{end}");
        let (d, gd, ge, e) = (veth("d"), veth("gd"), veth("ge"), veth("e"));
        for ns in lab.all() {
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        ip(&[
            "link",
            "add",
            &d,
            "netns",
            &lab.device,
            "type",
            "veth",
            "peer",
            "name",
            &gd,
            "netns",
            &lab.gateway,
        ]);
        ip(&[
            "link",
            "add",
            &e,
            "netns",
            &lab.endpoint,
            "type",
            "veth",
            "peer",
            "name",
            &ge,
            "netns",
            &lab.gateway,
        ]);
        let addrs = [
            (&lab.device, &d, DEVICE, "24"),
            (&lab.device, &d, DEVICE6, "64"),
            (&lab.gateway, &gd, GATEWAY_DEVICE_SIDE, "24"),
            (&lab.gateway, &gd, GATEWAY6_DEVICE_SIDE, "64"),
            (&lab.gateway, &ge, GATEWAY_ENDPOINT_SIDE, "24"),
            (&lab.gateway, &ge, GATEWAY6_ENDPOINT_SIDE, "64"),
            (&lab.endpoint, &e, ENDPOINT, "24"),
            (&lab.endpoint, &e, ENDPOINT_OTHER, "24"),
            (&lab.endpoint, &e, ENDPOINT6, "64"),
        ];
        for (ns, dev, addr, len) in addrs {
            let cidr = format!("{addr}/{len}");
            // nodad: an IPv6 address is usable at once, not after duplicate detection.
            let mut args = vec!["-n", ns, "addr", "add", &cidr, "dev", dev];
            if addr.contains(':') {
                args.push("nodad");
            }
            ip(&args);
        }
        for (ns, dev) in [
            (&lab.device, &d),
            (&lab.gateway, &gd),
            (&lab.gateway, &ge),
            (&lab.endpoint, &e),
        ] {
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        ip(&[
            "-n",
            &lab.device,
            "route",
            "add",
            "default",
            "via",
            GATEWAY_DEVICE_SIDE,
        ]);
        ip(&[
            "-n",
            &lab.device,
            "-6",
            "route",
            "add",
            "default",
            "via",
            GATEWAY6_DEVICE_SIDE,
        ]);
        ip(&[
            "-n",
            &lab.endpoint,
            "route",
            "add",
            "default",
            "via",
            GATEWAY_ENDPOINT_SIDE,
        ]);
        ip(&[
            "-n",
            &lab.endpoint,
            "-6",
            "route",
            "add",
            "default",
            "via",
            GATEWAY6_ENDPOINT_SIDE,
        ]);
        // /proc/sys/net belongs to the namespace of whoever reads it: no procps needed.
        lab.run(
            &lab.gateway,
            &[
                "sh",
                "-c",
                "echo 1 > /proc/sys/net/ipv4/ip_forward && echo 1 > /proc/sys/net/ipv6/conf/all/forwarding",
            ],
        );
        lab
    }

    fn all(&self) -> [&String; 3] {
        [&self.device, &self.gateway, &self.endpoint]
    }

    /// `program` run inside namespace `ns`.
    pub fn exec(&self, ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    /// Runs `args` inside `ns` and panics, with its stderr, unless it succeeds.
    pub fn run(&self, ns: &str, args: &[&str]) -> Output {
        self.run_with_input(ns, args, b"")
    }

    /// Like [`Lab::run`], feeding `input` on stdin (`nft -f -`).
    pub fn run_with_input(&self, ns: &str, args: &[&str], input: &[u8]) -> Output {
        let (program, rest) = args.split_first().expect("a command");
        let mut child = self
            .exec(ns, program)
            .args(rest)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {args:?} in {ns}: {e}"));
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input).expect("write stdin");
        }
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{args:?} in {ns} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Makes `ip netns exec NS` see `text` as /etc/hosts (iproute2 bind-mounts
    /// /etc/netns/NS/hosts over it).
    pub fn hosts(&self, ns: &str, text: &str) {
        let dir = Path::new("/etc/netns").join(ns);
        std::fs::create_dir_all(&dir).expect("create /etc/netns/NS");
        std::fs::write(dir.join("hosts"), text).expect("write hosts");
    }

    /// Waits until something in `ns` listens on TCP `port`.
    pub fn wait_listening(&self, ns: &str, port: u16) {
        let deadline = Instant::now() + crate::proxy::WAIT;
        let filter = format!("sport = :{port}");
        loop {
            let out = self.run(ns, &["ss", "-Hltn", &filter]);
            if !out.stdout.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nothing listens on {port} in {ns}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.all() {
            remove(ns);
        }
    }
}

/// Ends what still runs in `ns` (processes these tests started there), then deletes it.
fn remove(ns: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = Command::new("kill").args(["-KILL", pid]).status();
        }
    }
    let _ = Command::new("ip").args(["netns", "del", ns]).status();
    let _ = std::fs::remove_dir_all(PathBuf::from("/etc/netns").join(ns));
}

/// Deletes namespaces of earlier runs whose process is gone.
fn sweep_stale() {
    let Ok(dir) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            remove(&name);
        }
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
