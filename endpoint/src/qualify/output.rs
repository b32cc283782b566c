//! The three forms of a qualify run: a table for people, JSON Lines for programs, and JUnit
//! XML for CI systems (one `testcase` per case; a FAIL is a `failure`, a NOT RUN is
//! `skipped`, and the evidence goes in the element's text and in `system-out`).

use std::fmt::Write;

use super::{Outcome, Verdict};

pub fn json_line(o: &Outcome) -> String {
    serde_json::to_string(o).unwrap_or_default()
}

pub fn table(outcomes: &[Outcome]) -> String {
    let w = outcomes
        .iter()
        .map(|o| o.case.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut s = String::new();
    let _ = writeln!(s, "{:<w$}  {:<7}  {:>7}  WHY", "CASE", "VERDICT", "TIME");
    for o in outcomes {
        let _ = writeln!(
            s,
            "{:<w$}  {:<7}  {:>6.1}s  {}",
            o.case,
            o.verdict.as_str(),
            o.duration_ms as f64 / 1000.0,
            o.reason
        );
        if o.verdict != Verdict::Pass {
            for e in &o.evidence {
                let _ = writeln!(s, "{:<w$}    {:>7} ms  {}", "", e.at_ms, e.what);
            }
        }
    }
    let count = |v| outcomes.iter().filter(|o| o.verdict == v).count();
    let _ = writeln!(
        s,
        "{} passed, {} failed, {} not run",
        count(Verdict::Pass),
        count(Verdict::Fail),
        count(Verdict::NotRun)
    );
    s
}

fn evidence_text(o: &Outcome) -> String {
    o.evidence
        .iter()
        .map(|e| format!("{:>7} ms  {}\n", e.at_ms, e.what))
        .collect()
}

/// JUnit XML as Jenkins, GitLab and the `junit.xsd` schema CI tools share read it.
pub fn junit(outcomes: &[Outcome]) -> String {
    let count = |v| outcomes.iter().filter(|o| o.verdict == v).count();
    let total: f64 = outcomes.iter().map(|o| o.duration_ms as f64 / 1000.0).sum();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        s,
        // No `skipped` here: the Jenkins schema (junit-10.xsd) allows it on each testsuite
        // only, and the test suite checks the report against that schema.
        "<testsuites name=\"iotscope qualify\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{total:.3}\">",
        outcomes.len(),
        count(Verdict::Fail)
    );
    for suite in ["tls", "mqtt"] {
        let of: Vec<&Outcome> = outcomes.iter().filter(|o| o.suite == suite).collect();
        if of.is_empty() {
            continue;
        }
        let time: f64 = of.iter().map(|o| o.duration_ms as f64 / 1000.0).sum();
        let n = |v| of.iter().filter(|o| o.verdict == v).count();
        let _ = writeln!(
            s,
            "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{time:.3}\">",
            of.len(),
            n(Verdict::Fail),
            n(Verdict::NotRun)
        );
        for o in of {
            let _ = write!(
                s,
                "    <testcase name=\"{}\" classname=\"iotscope.qualify.{suite}\" time=\"{:.3}\"",
                escape(o.case),
                o.duration_ms as f64 / 1000.0
            );
            match o.verdict {
                Verdict::Pass => {
                    let _ = writeln!(s, ">");
                }
                Verdict::Fail => {
                    let _ = writeln!(
                        s,
                        ">\n      <failure message=\"{}\" type=\"FAIL\">{}</failure>",
                        escape(&o.reason),
                        escape(&evidence_text(o))
                    );
                }
                Verdict::NotRun => {
                    let _ = writeln!(s, ">\n      <skipped message=\"{}\"/>", escape(&o.reason));
                }
            }
            let _ = writeln!(
                s,
                "      <system-out>{}</system-out>\n    </testcase>",
                escape(&format!("{}\n{}", o.reason, evidence_text(o)))
            );
        }
        let _ = writeln!(s, "  </testsuite>");
    }
    s.push_str("</testsuites>\n");
    s
}

/// XML text and attribute escaping; characters XML 1.0 forbids are dropped.
fn escape(t: &str) -> String {
    let mut s = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&apos;"),
            '\t' | '\n' | '\r' => s.push(c),
            c if (c as u32) < 0x20 => {}
            c => s.push(c),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qualify::Event;

    #[test]
    fn junit_escapes_and_counts() {
        let o = |case, verdict| Outcome {
            case,
            suite: "mqtt",
            verdict,
            reason: "a <b> & \"c\"\u{1}".into(),
            duration_ms: 1500,
            evidence: vec![Event {
                at_ms: 3,
                what: "x".into(),
            }],
        };
        let x = junit(&[
            o("A", Verdict::Pass),
            o("B", Verdict::Fail),
            o("C", Verdict::NotRun),
        ]);
        assert!(x.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""));
        assert!(x.contains("message=\"a &lt;b&gt; &amp; &quot;c&quot;\""));
        assert!(!x.contains('\u{1}'));
    }
}
