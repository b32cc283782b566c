//! The probe's steps as they happen: a line each in text form, with the time since the probe
//! began and how long the step took, and the same list in the JSON object.

use std::io::Write;
use std::time::Instant;

use serde::Serialize;

/// One step: offline checks, name resolution, TCP, TLS, or one MQTT exchange.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub ok: bool,
    /// Seconds from the probe's start to the step's start.
    pub at_s: f64,
    pub took_s: f64,
    pub summary: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

pub struct Steps {
    start: Instant,
    /// Print each step when it is recorded (text form).
    live: bool,
    colour: bool,
    pub list: Vec<Step>,
}

impl Steps {
    pub fn new(live: bool, colour: bool) -> Steps {
        Steps {
            start: Instant::now(),
            live,
            colour,
            list: Vec::new(),
        }
    }

    /// Records a step that began at `began`, and prints it in text form.
    pub fn record(
        &mut self,
        step: &'static str,
        began: Instant,
        ok: bool,
        summary: impl Into<String>,
        details: Vec<String>,
    ) {
        let s = Step {
            step,
            ok,
            at_s: began.saturating_duration_since(self.start).as_secs_f64(),
            took_s: began.elapsed().as_secs_f64(),
            summary: summary.into(),
            details,
        };
        if self.live {
            let mut out = std::io::stdout();
            // A reader that went away must not stop the probe; the exit status still counts.
            let _ = writeln!(out, "{}", line(&s, self.colour));
            let _ = out.flush();
        }
        self.list.push(s);
    }

    /// True when every step worked.
    pub fn all_ok(&self) -> bool {
        self.list.iter().all(|s| s.ok)
    }

    pub fn first_failure(&self) -> Option<&Step> {
        self.list.iter().find(|s| !s.ok)
    }
}

/// Detail lines start under the step's name, so most stay within 80 columns.
const DETAIL_INDENT: &str = "             ";

/// `  +0.012 s  tls        ok    TLS 1.3, … (10.4 ms)` and the detail lines under it.
pub fn line(s: &Step, colour: bool) -> String {
    let verdict = match (s.ok, colour) {
        (true, true) => "\x1b[32mok\x1b[0m  ".to_string(),
        (true, false) => "ok  ".to_string(),
        (false, true) => "\x1b[1;31mFAIL\x1b[0m".to_string(),
        (false, false) => "FAIL".to_string(),
    };
    let mut out = format!(
        "  +{:.3} s  {:<10} {verdict}  {} ({})",
        s.at_s,
        s.step,
        s.summary,
        duration(s.took_s)
    );
    for d in &s.details {
        out.push('\n');
        out.push_str(DETAIL_INDENT);
        out.push_str(d);
    }
    out
}

fn duration(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.1} ms", secs * 1000.0)
    } else {
        format!("{secs:.2} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_line_says_what_when_and_how_long() {
        let s = Step {
            step: "tls",
            ok: false,
            at_s: 0.0123,
            took_s: 0.0045,
            summary: "handshake failed".into(),
            details: vec!["the endpoint sent unknown_ca".into()],
        };
        assert_eq!(
            line(&s, false),
            "  +0.012 s  tls        FAIL  handshake failed (4.5 ms)\n             the endpoint sent unknown_ca"
        );
    }
}
