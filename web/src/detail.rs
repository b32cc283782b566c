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

#[derive(Serialize)]
pub struct Detail<'a> {
    pub row: &'a Row,
    pub svg: String,
    pub findings: &'a [Finding],
    pub events: Vec<EventLine>,
    /// The connection's JSON object, indented.
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
    pub fn new(row: &'a Row, trace: &Trace, findings: &'a [Finding]) -> Detail<'a> {
        let facts = Facts::new(trace);
        let mut raw = Vec::new();
        let json = match iotscope_report::json::write_connection(
            &mut raw,
            &mut SortedJson::new(),
            &facts,
            findings,
            true,
        ) {
            Ok(()) => serde_json::from_slice::<serde_json::Value>(&raw)
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or_else(|e| format!("(the JSON could not be made: {e})")),
            Err(e) => format!("(the JSON could not be made: {e})"),
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
            row,
            svg: Ladder::new(trace, findings).svg(),
            findings,
            events,
            json,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "null".into())
    }
}
