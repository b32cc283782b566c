//! `iotscope replay --html FILE`: one HTML file, with nothing to fetch, that shows every
//! connection of the captures as the live view would.
//!
//! The file is written as the replay goes: the page's first half, then each connection's
//! detail (ladder, findings, events, JSON) in a `<script type="application/json">` element of
//! its own, which the page parses only when that connection is selected, then the table's
//! rows and the chart, then the page's second half. A capture of many thousands of
//! connections costs memory for the rows only, and the page stays quick: the browser does
//! not parse a detail until it is shown, and the table shows one page of rows at a time.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use iotscope_decoder::diagnose::Finding;
use iotscope_decoder::facts::Facts;

use crate::chart::Counts;
use crate::detail::Detail;
use crate::escape::json_in_script;
use crate::page;
use crate::row::Row;

pub struct HtmlReport {
    path: PathBuf,
    inner: Mutex<Inner>,
}

struct Inner {
    out: BufWriter<File>,
    rows: Vec<Row>,
    /// The first write that failed; later connections are not written.
    failed: Option<std::io::Error>,
    after: String,
}

impl HtmlReport {
    /// Creates `path` and writes the page's beginning.
    pub fn create(path: &Path, title: &str) -> std::io::Result<HtmlReport> {
        let (before, after) = page::halves(title);
        let mut out = BufWriter::new(File::create(path)?);
        out.write_all(before.as_bytes())?;
        out.write_all(b"<script type=\"application/json\" id=\"mode\">\"report\"</script>\n")?;
        Ok(HtmlReport {
            path: path.to_path_buf(),
            inner: Mutex::new(Inner {
                out,
                rows: Vec::new(),
                failed: None,
                after,
            }),
        })
    }

    /// Writes the table's rows, the chart and the page's end. Returns how many connections
    /// the file shows.
    pub fn finish(&self) -> std::io::Result<usize> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| std::io::Error::other("the report's writer panicked"))?;
        if let Some(e) = inner.failed.take() {
            return Err(e);
        }
        let rows = serde_json::to_string(&inner.rows).map_err(std::io::Error::other)?;
        let counts = Counts::of(inner.rows.iter().map(|r| (r.unix, &r.problems[..])));
        let chart = serde_json::to_string(&counts.svg()).map_err(std::io::Error::other)?;
        let after = std::mem::take(&mut inner.after);
        let n = inner.rows.len();
        let out = &mut inner.out;
        write!(
            out,
            "<script type=\"application/json\" id=\"rows\">{}</script>\n<script type=\"application/json\" id=\"chart-svg\">{}</script>\n",
            json_in_script(&rows),
            json_in_script(&chart)
        )?;
        out.write_all(after.as_bytes())?;
        out.flush()?;
        Ok(n)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl iotscope_report::Watch for HtmlReport {
    fn finished(&self, facts: &Facts, findings: &[Finding]) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.failed.is_some() {
            return;
        }
        let id = inner.rows.len() as u64 + 1;
        let row = Row::finished(id, facts, findings);
        let detail = Detail::lean(facts.trace, findings).to_json();
        let r = writeln!(
            inner.out,
            "<script type=\"application/json\" id=\"c-{id}\">{}</script>",
            json_in_script(&detail)
        );
        match r {
            Ok(()) => inner.rows.push(row),
            Err(e) => inner.failed = Some(e),
        }
    }
}
