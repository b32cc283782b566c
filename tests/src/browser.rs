//! A real browser for the web view's tests: Debian's headless Chromium, driven through
//! chromedriver (WebDriver over plain HTTP on loopback) with fantoccini.
//!
//! Each [`Browser`] starts its own chromedriver on a free port and its own Chromium with a
//! fresh profile folder, told not to reach the network on its own (no updates, sync, QUIC
//! or background fetches), so that what the page shows comes from iotscope alone.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::pki::Dir;
use crate::proxy::{dead_port, WAIT};

/// chromedriver and chromium, or `None` outside CI when either is missing (in CI that
/// fails: see [`crate::have_tool`]).
pub fn available() -> bool {
    crate::have_tool("chromedriver") && crate::have_tool("chromium")
}

pub struct Browser {
    pub rt: tokio::runtime::Runtime,
    pub client: Option<Client>,
    driver: Child,
    _profile: Dir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a window of `width`×`height`.
    pub fn start(width: u32, height: u32) -> Browser {
        let port = dead_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = Dir::new(&format!("chromium-{port}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "args": args, "binary": chromium_binary() }),
        );
        let client = rt
            .block_on(
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(caps)
                    .connect(&format!("http://127.0.0.1:{port}")),
            )
            .expect("a chromedriver session");
        Browser {
            rt,
            client: Some(client),
            driver,
            _profile: profile,
        }
    }

    fn c(&self) -> &Client {
        self.client.as_ref().expect("an open session")
    }

    pub fn goto(&self, url: &str) {
        self.rt
            .block_on(self.c().goto(url))
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Runs `script` in the page (its `return` value comes back as JSON).
    pub fn js(&self, script: &str) -> Value {
        self.rt
            .block_on(self.c().execute(script, vec![]))
            .unwrap_or_else(|e| panic!("script failed ({e}): {script}"))
    }

    /// Runs `script` until it returns something other than `null` or `false`, for up to
    /// [`WAIT`]; panics with `what` and the page's table when it never does.
    pub fn wait_for(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.js(script);
            if !v.is_null() && v != Value::Bool(false) {
                return v;
            }
            if Instant::now() > deadline {
                panic!(
                    "the page never showed {what}; its table:\n{}",
                    self.js("return document.querySelector('#table-box').innerText")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the element `css` as a user would.
    pub fn click(&self, css: &str) {
        self.rt
            .block_on(async {
                let e = self.c().find(Locator::Css(css)).await?;
                e.click().await
            })
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Picks `value` in the `<select>` `css`.
    pub fn select(&self, css: &str, value: &str) {
        self.rt
            .block_on(async {
                let e = self.c().find(Locator::Css(css)).await?;
                e.select_by_value(value).await
            })
            .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
    }

    /// Types `text` into the input `css` (after clearing it).
    pub fn type_into(&self, css: &str, text: &str) {
        self.rt
            .block_on(async {
                let e = self.c().find(Locator::Css(css)).await?;
                e.clear().await?;
                e.send_keys(text).await
            })
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Saves what the window shows as a PNG at `path`.
    pub fn screenshot(&self, path: &Path) {
        let png = self
            .rt
            .block_on(self.c().screenshot())
            .expect("a screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot folder");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let _ = self.rt.block_on(c.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn chromium_binary() -> String {
    ["/usr/bin/chromium", "/usr/lib/chromium/chromium"]
        .iter()
        .find(|p| Path::new(p).exists())
        .map_or_else(|| "chromium".to_string(), |p| p.to_string())
}

/// Where a test's screenshots go: `target/web-view/` of the workspace.
pub fn artefacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::root().join("target"));
    target.join("web-view")
}

/// Copies a screenshot into `docs/img/` when `IOTSCOPE_DOCS_SCREENSHOTS` is set: the user
/// guide's pictures are taken by the tests, on purpose, not on every run.
pub fn for_docs(shot: &Path, name: &str) {
    if std::env::var_os("IOTSCOPE_DOCS_SCREENSHOTS").is_none() {
        return;
    }
    let dir = crate::root().join("docs").join("img");
    std::fs::create_dir_all(&dir).expect("docs/img");
    std::fs::copy(shot, dir.join(name)).expect("copy the screenshot into docs/img");
}
