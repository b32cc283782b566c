//! For a denied request, the smallest statement that allows it: its one action on its one
//! resource. Where the resource holds the device's own name, a policy variable stands in,
//! so the same statement serves every device given the policy.

use serde::Serialize;

use super::actions::{Action, Request};
use super::device::{self, Device};
use super::pattern;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Suggestion {
    /// A statement to add to one of the policies.
    pub statement: SuggestedStatement,
    /// What it does, in a sentence.
    pub text: String,
}

/// A statement in the order people write them: Effect, Action, Resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SuggestedStatement {
    #[serde(rename = "Effect")]
    pub effect: &'static str,
    #[serde(rename = "Action")]
    pub action: &'static str,
    #[serde(rename = "Resource")]
    pub resource: String,
}

impl SuggestedStatement {
    /// The statement as one line of JSON, ready to paste into a policy.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

pub fn allow_statement(device: &Device, request: &Request) -> Suggestion {
    let (var, own) = own_name(device);
    let name = if request.action == Action::Connect {
        if request.name == own {
            var.to_string()
        } else {
            pattern::escape(&request.name)
        }
    } else {
        // Whole topic levels only: a short client id must not replace every letter it
        // happens to spell.
        request
            .name
            .split('/')
            .map(|level| {
                if !own.is_empty() && level == own {
                    var.to_string()
                } else {
                    pattern::escape(level)
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    };
    let arn = format!(
        "arn:{}:iot:{}:{}:{}/{}",
        device::partition(device.region.as_deref()),
        device.region.as_deref().unwrap_or("*"),
        device.account.as_deref().unwrap_or("*"),
        request.action.resource_type(),
        name
    );
    let text = format!("allows {} on {arn} and nothing else", request.action.name());
    Suggestion {
        statement: SuggestedStatement {
            effect: "Allow",
            action: request.action.name(),
            resource: arn,
        },
        text,
    }
}

/// The variable for the device's own name: the thing name when the client id is the thing's
/// (AWS's advice for registered devices), else the client id.
fn own_name(device: &Device) -> (&'static str, &str) {
    match &device.thing {
        Some(t) if t.name == device.client_id => {
            ("${iot:Connection.Thing.ThingName}", &device.client_id)
        }
        _ => ("${iot:ClientId}", &device.client_id),
    }
}
