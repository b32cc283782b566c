//! Running `iotscope qualify` from a test: on a port the kernel picks, with its JSON Lines on
//! stdout and its JUnit report in the test's folder; its stderr goes on to the test's once it
//! has said where it listens.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::iotscope_path;

/// `iotscope qualify --listen 127.0.0.1:0 --format json --ca-dir DIR/ca --junit
/// DIR/junit.xml --time-limit LIMIT`, one `--case` per case, then `more`; the child and the
/// port it listens on.
pub fn spawn(dir: &Path, cases: &[&str], limit: u32, more: &[String]) -> (Child, u16) {
    let mut cmd = Command::new(iotscope_path());
    cmd.args(["qualify", "--listen", "127.0.0.1:0", "--format", "json"])
        .arg("--ca-dir")
        .arg(dir.join("ca"))
        .arg("--junit")
        .arg(dir.join("junit.xml"))
        .args(["--time-limit", &limit.to_string()]);
    for c in cases {
        cmd.args(["--case", c]);
    }
    cmd.args(more);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("iotscope runs");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut port = 0;
    let mut said = String::new();
    let mut line = String::new();
    while err.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.split("listening on 127.0.0.1:").nth(1) {
            port = rest.split(' ').next().unwrap().parse().unwrap();
            break;
        }
        said.push_str(&line);
        line.clear();
    }
    assert!(port > 0, "qualify did not say where it listens: {said}");
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
        eprint!("{rest}");
    });
    (child, port)
}
