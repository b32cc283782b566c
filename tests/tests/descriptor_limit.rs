//! `--max-connections` left out: the proxy and the endpoint allow what the descriptor limit
//! allows, raise the soft limit to the hard one first, and say so at start. The proxy is
//! started under a soft limit of 1,024 (`ulimit -Sn` in a shell that then runs it), so that
//! the raise is seen whatever limit the test runs under; more than 512 connections (the old
//! default) are then relayed at once.
//!
//! Also here, as the other thing the proxy sets for itself at start to hold many connections:
//! it runs without transparent huge pages.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use iotscope_tests::iotscope_path;
use iotscope_tests::proxy::{ProxyProcess, WAIT};

/// Connections held at once: above the 512 the default used to be.
const HELD: usize = 600;

/// The hard descriptor limit, and the soft one after raising it to that.
fn raise_own_limit() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write a struct on this frame.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
    }
    #[allow(clippy::unnecessary_cast)]
    (lim.rlim_max as u64, lim.rlim_cur as u64)
}

/// `iotscope ARGS` under a soft descriptor limit of 1,024 (or the hard limit, when lower).
fn under_soft_limit_1024(args: &[&str]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"ulimit -Sn 1024 2>/dev/null || ulimit -Sn "$(ulimit -Hn)"; exec "$@""#)
        .arg("sh")
        .arg(iotscope_path())
        .args(args);
    cmd
}

/// A listener that accepts and holds every connection, counting them.
fn holding_upstream() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // std listens with a queue of 128: the proxy dials faster than this thread may be
    // scheduled on a loaded machine, and a dropped SYN waits for its retransmission. The
    // proxy's own queue is 4,096 (`relay::listener`); the upstream here gets the same.
    // SAFETY: listen on a socket this function owns, to change its queue length.
    unsafe {
        use std::os::fd::AsRawFd;
        assert_eq!(libc::listen(listener.as_raw_fd(), 4096), 0);
    }
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            let Ok(s) = s else { continue };
            held.push(s);
            seen.store(held.len(), Ordering::Release);
        }
    });
    (port, count)
}

/// The proxy's standard error once it holds `line`, or as it is after [`WAIT`].
fn stderr_with(proxy: &ProxyProcess, line: &str) -> String {
    let since = Instant::now();
    loop {
        let err = proxy.stderr();
        if err.contains(line) || since.elapsed() > WAIT {
            return err;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn proxy_allows_what_the_descriptor_limit_allows_and_says_so() {
    let (hard, _) = raise_own_limit();
    let (up_port, accepted) = holding_upstream();
    let up = format!("127.0.0.1:{up_port}");
    let mut cmd = under_soft_limit_1024(&[
        "proxy",
        "--listen",
        "127.0.0.1:0",
        "--format",
        "json",
        "--upstream",
        &up,
        // The devices here never send a byte: a loaded machine may take longer than the
        // default 30 s to open all of them, and the first must not be cut meanwhile.
        "--handshake-timeout",
        "0",
    ]);
    cmd.env_remove("RUST_LOG");
    let proxy = ProxyProcess::spawn(cmd);
    let fits = (hard.saturating_sub(64) / 2).clamp(1, 1_048_576);
    let raised = if hard > 1024 {
        ", raised from 1024"
    } else {
        ""
    };
    let line = format!(
        "iotscope: up to {fits} connections at once (the descriptor limit (ulimit -n) is {hard}{raised}; 2 descriptors per connection, 64 kept for files)"
    );
    let stderr = stderr_with(&proxy, &line);
    assert!(stderr.contains(&line), "wanted {line:?} in:\n{stderr}");

    if (fits as usize) < HELD + 10 {
        eprintln!(
            "the hard descriptor limit ({hard}) allows {fits} connections: not opening {HELD}"
        );
        let _ = proxy.stop();
        return;
    }
    // Every connection is held by the device (here) and relayed to the upstream, which holds
    // its end too: all of them at once.
    let devices: Vec<TcpStream> = (0..HELD)
        .map(|_| TcpStream::connect(("127.0.0.1", proxy.port)).expect("connect to the proxy"))
        .collect();
    for d in &devices {
        d.set_nonblocking(true).unwrap();
    }
    let since = Instant::now();
    while accepted.load(Ordering::Acquire) < HELD {
        // A refused connection is closed by the proxy at accept: the device reads its end.
        for (i, mut d) in devices.iter().enumerate() {
            let mut b = [0u8; 1];
            if let Ok(0) = d.read(&mut b) {
                panic!(
                    "connection {} of {HELD} was closed by the proxy; {} relayed; stderr:\n{}",
                    i + 1,
                    accepted.load(Ordering::Acquire),
                    proxy.stderr()
                );
            }
        }
        assert!(
            since.elapsed() < WAIT,
            "{} of {HELD} relayed",
            accepted.load(Ordering::Acquire)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!proxy.stderr().contains("refused"), "{}", proxy.stderr());
    drop(devices);
    let (status, _, stderr) = proxy.stop();
    assert!(status.code().is_some(), "{stderr}");
}

#[test]
fn a_given_max_connections_is_said_at_start_too() {
    let (up_port, _) = holding_upstream();
    let up = format!("127.0.0.1:{up_port}");
    let proxy = ProxyProcess::start(&["--upstream", &up, "--max-connections", "40"]);
    let line = "iotscope: up to 40 connections at once (--max-connections)";
    let stderr = stderr_with(&proxy, line);
    assert!(stderr.contains(line), "{stderr}");
    let _ = proxy.stop();
}

#[test]
fn endpoint_allows_what_the_descriptor_limit_allows_and_says_so() {
    let (hard, _) = raise_own_limit();
    let dir = iotscope_tests::pki::Dir::new("endpoint-fds");
    let state = dir.file("state");
    let mut cmd =
        under_soft_limit_1024(&["endpoint", "--listen", "127.0.0.1:0", "--state-dir", &state]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .stdin(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("start iotscope endpoint");
    let err = child.stderr.take().unwrap();
    let fits = (hard.saturating_sub(64)).clamp(1, 1_048_576);
    let raised = if hard > 1024 {
        ", raised from 1024"
    } else {
        ""
    };
    let want = format!(
        "iotscope endpoint: up to {fits} connections at once (the descriptor limit (ulimit -n) is {hard}{raised}; one descriptor per connection, 64 kept for files)"
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let found = loop {
        match rx.recv_timeout(WAIT) {
            Ok(l) if l == want => break true,
            Ok(l) => seen.push(l),
            Err(_) => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(found, "wanted {want:?}; got:\n{}", seen.join("\n"));
}

/// `THP_enabled` of a process, from its /proc status ("1" or "0").
fn thp_enabled(pid: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read the status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("THP_enabled:"))
        .unwrap_or_else(|| panic!("no THP_enabled line in /proc/{pid}/status:\n{status}"))
        .trim()
        .to_string()
}

/// The proxy turns transparent huge pages off for its process (`no_huge_pages` in
/// `cli/src/main.rs`): with them, what it held for idle connections moved in 2 MiB steps
/// (docs/performance.md, "Idle connections, eighth round"). `MIMALLOC_ALLOW_THP` set leaves
/// the choice to mimalloc, so the process keeps what it was started with (this test's own).
#[test]
fn the_proxy_runs_without_huge_pages_unless_the_environment_says() {
    let (up_port, _) = holding_upstream();
    let up = format!("127.0.0.1:{up_port}");
    let inherited = thp_enabled("self");
    for (allow, want) in [(None, "0"), (Some("1"), inherited.as_str())] {
        let mut cmd = iotscope_tests::iotscope();
        cmd.args(["proxy", "--listen", "127.0.0.1:0", "--format", "json"])
            .args(["--upstream", &up])
            .env_remove("MIMALLOC_ALLOW_THP");
        if let Some(a) = allow {
            cmd.env("MIMALLOC_ALLOW_THP", a);
        }
        // Listening means main has run past the setting.
        let proxy = ProxyProcess::spawn(cmd);
        let got = thp_enabled(&proxy.pid().to_string());
        let _ = proxy.stop();
        assert_eq!(got, want, "MIMALLOC_ALLOW_THP {allow:?}");
    }
}
