//! Everything the page shows about one selected connection: its ladder, its findings, its
//! raw events and its JSON object (the same one `--format json --events` prints).

use serde::Serialize;

use iotscope_decoder::diagnose::Finding;
use iotscope_decoder::facts::Facts;
use iotscope_decoder::{Direction, Trace};
use iotscope_report::sorted_json::SortedJson;
use iotscope_report::text;

use crate::ladder::Ladder;
use crate::row::Row;

/// Parts the page has already (the row in the report's table, the findings inside the
/// JSON) are left out where the detail is stored for every connection: the report.
#[derive(Serialize)]
pub struct Detail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<&'a Row>,
    pub svg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<&'a [Finding]>,
    pub events: Vec<EventLine>,
    /// The connection's JSON object as `--format json` prints it (the events are above, as
    /// lines; the page indents it when shown).
    pub json: String,
}

/// One event as the text ladder prints it.
#[derive(Serialize)]
pub struct EventLine {
    pub t: String,
    pub arrow: &'static str,
    pub decrypted: bool,
    pub text: String,
}

impl<'a> Detail<'a> {
    /// The whole detail, as the live view sends it for one connection.
    pub fn new(row: &'a Row, trace: &Trace, findings: &'a [Finding]) -> Detail<'a> {
        Detail {
            row: Some(row),
            findings: Some(findings),
            ..Detail::lean(trace, findings)
        }
    }

    /// Without the row and the findings (the report has them elsewhere).
    pub fn lean(trace: &Trace, findings: &'a [Finding]) -> Detail<'a> {
        let facts = Facts::new(trace);
        let mut raw = Vec::new();
        let json = match iotscope_report::json::write_connection(
            &mut raw,
            &mut SortedJson::new(),
            &facts,
            findings,
            false,
        ) {
            Ok(()) => String::from_utf8_lossy(&raw).into_owned(),
            Err(e) => format!("\"the JSON could not be made: {e}\""),
        };
        let events = trace
            .events()
            .map(|e| EventLine {
                t: format!("{:.6}", trace.relative(e.ts)),
                arrow: match e.dir {
                    Direction::DeviceToEndpoint => "→",
                    Direction::EndpointToDevice => "←",
                },
                decrypted: e.decrypted,
                text: text::describe(e),
            })
            .collect();
        Detail {
            row: None,
            svg: Ladder::new(trace, findings).svg(),
            findings: None,
            events,
            json,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "null".into())
    }
}
