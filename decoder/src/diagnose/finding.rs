//! The shape of a diagnosis: what was seen, why it matters, how sure we are, what to do.

use serde::Serialize;

use super::catalogue::{self, Entry, Values};
use super::code::Code;

pub use super::section::{Section, Severity, GUIDE_URL};

/// How sure a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Certainty {
    /// The wire says it outright (an alert, a reason code, a missing extension).
    Certain,
    /// The most likely reading of what the wire shows; the candidates list the others.
    Likely,
    /// One of several readings the wire cannot tell apart.
    Possible,
}

/// One thing seen on the wire that a finding rests on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evidence {
    /// Seconds since the connection's first event.
    pub t: f64,
    pub text: String,
}

/// One diagnosis of one connection.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    pub section: Section,
    pub anchor: &'static str,
    /// The guide section's public address, anchor included.
    pub guide: &'static str,
    pub title: &'static str,
    pub certainty: Certainty,
    /// What happened on this connection, in one or two sentences with its own values.
    pub summary: String,
    pub evidence: Vec<Evidence>,
    /// Possible causes, most likely first (empty when the cause is certain).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<String>,
    /// What would tell the candidates apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settle: Option<String>,
    /// The next steps, with this connection's values filled in.
    pub next_steps: Vec<String>,
}

impl Finding {
    /// A finding for `code` from the catalogue, with the catalogue's severity.
    pub fn new(code: Code, summary: impl Into<String>) -> Finding {
        let e: &Entry = catalogue::entry(code);
        Finding {
            code: e.code,
            severity: e.severity,
            section: e.section,
            anchor: e.section.anchor(),
            guide: e.section.url(),
            title: e.title,
            certainty: Certainty::Certain,
            summary: summary.into(),
            evidence: Vec::new(),
            candidates: Vec::new(),
            settle: None,
            next_steps: Vec::new(),
        }
    }

    pub fn severity(mut self, s: Severity) -> Finding {
        self.severity = s;
        self
    }

    pub fn certainty(mut self, c: Certainty) -> Finding {
        self.certainty = c;
        self
    }

    pub fn evidence(mut self, t: f64, text: impl Into<String>) -> Finding {
        self.evidence.push(Evidence {
            t,
            text: text.into(),
        });
        self
    }

    pub fn candidates<I, S>(mut self, c: I) -> Finding
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.candidates = c.into_iter().map(Into::into).collect();
        self
    }

    /// The catalogue's next steps for this code, filled with `values`.
    pub fn steps_from(mut self, values: &Values) -> Finding {
        self.next_steps = catalogue::steps(self.code, values);
        self
    }

    pub fn settle(mut self, s: impl Into<String>) -> Finding {
        self.settle = Some(s.into());
        self
    }
}
