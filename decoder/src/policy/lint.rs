//! `policy lint`: what is wrong with a policy document before any device meets it. JSON
//! that does not parse, statements that can never match, statements that match far more
//! than they seem to, actions AWS does not have, and documents over AWS's size limit.

use serde::Serialize;

use super::actions::KNOWN;
use super::document::{self, Effect, Policy, Statement, Targets};
use super::error::PolicyError;
use super::pattern;

/// AWS IoT counts a policy document's characters without whitespace against this.
pub const MAX_DOCUMENT_CHARS: usize = 2048;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Not JSON, or not a policy (line and column, or a JSON pointer).
    Invalid,
    /// A statement, or part of one, that no request can match.
    NeverMatches,
    /// A statement that matches far more than it seems to.
    TooBroad,
    UnknownAction,
    TooLong,
    /// MQTT `+` or `#` in a resource, where they are plain characters.
    MqttWildcard,
    NoVersion,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    /// The policy's name, or the file's.
    pub policy: String,
    /// `line:column` or a JSON pointer into the document.
    pub place: String,
    pub message: String,
}

/// Lints every policy in `text` (a document, or AWS CLI output holding several).
pub fn lint(source_name: &str, text: &str) -> Vec<Problem> {
    match document::parse_policies(source_name, text) {
        Err(e) => vec![invalid(source_name, &e)],
        Ok(policies) => policies.iter().flat_map(lint_policy).collect(),
    }
}

fn invalid(source_name: &str, e: &PolicyError) -> Problem {
    Problem {
        kind: ProblemKind::Invalid,
        policy: source_name.to_string(),
        place: e.place(),
        // The file is named beside the problem already.
        message: e
            .to_string()
            .strip_prefix(source_name)
            .map(|m| m.trim_start_matches(": ").to_string())
            .unwrap_or_else(|| e.to_string()),
    }
}

pub fn lint_policy(policy: &Policy) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut say = |kind, place: &str, message: String| {
        out.push(Problem {
            kind,
            policy: policy.name.clone(),
            place: place.to_string(),
            message,
        })
    };
    if policy.version.is_none() {
        say(
            ProblemKind::NoVersion,
            "",
            format!("the document has no Version; write \"Version\": \"{}\" so policy variables are substituted", document::VERSION),
        );
    }
    if policy.size > MAX_DOCUMENT_CHARS {
        say(
            ProblemKind::TooLong,
            "",
            format!(
                "the document has {} characters other than whitespace; AWS IoT takes at most {MAX_DOCUMENT_CHARS}",
                policy.size
            ),
        );
    }
    for st in &policy.statements {
        statement(st, &mut say);
    }
    out
}

fn statement(st: &Statement, say: &mut impl FnMut(ProblemKind, &str, String)) {
    let at = st.pointer.as_str();
    let Targets::Listed(actions) = &st.actions else {
        return;
    };
    // The known actions each written action stands for.
    let mut covered: Vec<(&str, Option<&str>)> = Vec::new();
    for a in actions {
        let pat = pattern::literal_pattern(a);
        let hits: Vec<_> = KNOWN
            .iter()
            .filter(|(name, _)| pattern::matches(&pat, &pattern::known(name), true))
            .collect();
        if hits.is_empty() {
            say(
                ProblemKind::UnknownAction,
                &format!("{at}/Action"),
                format!("{a:?} is not an AWS IoT Core policy action, so this part of the statement never matches"),
            );
        }
        covered.extend(hits.into_iter().copied());
    }
    if st.effect == Effect::Allow && super::evaluate::too_broad(st) {
        say(
            ProblemKind::TooBroad,
            at,
            "allows every action on every resource (iot:* on *): any client id may connect, publish, subscribe and receive on any topic".into(),
        );
    }
    let Targets::Listed(resources) = &st.resources else {
        return;
    };
    if st.effect == Effect::Allow && covered.iter().any(|(n, _)| *n == "iot:Connect") {
        if let Some(r) = resources
            .iter()
            .find(|r| *r == "*" || r.ends_with(":client/*"))
        {
            if !super::evaluate::too_broad(st) {
                say(
                    ProblemKind::TooBroad,
                    at,
                    format!("allows iot:Connect on {r:?}: any client id may connect with this certificate, including another device's, which disconnects that device"),
                );
            }
        }
    }
    for r in resources {
        if let Some(("topic", name)) = resource_type(r) {
            if name.contains(['+', '#']) {
                say(
                    ProblemKind::MqttWildcard,
                    &format!("{at}/Resource"),
                    format!("{r:?}: + and # are plain characters in a policy and no topic name holds them; use * (any run of characters, across levels) or ?"),
                );
            }
        }
    }
    // Each action needs a resource of its own type; a statement where none has one never
    // matches anything.
    let mut any_action_can_match = covered.is_empty();
    for (name, ty) in &covered {
        let fits = resources.iter().any(|r| fits(r, *ty));
        any_action_can_match |= fits;
        if !fits && actions.iter().any(|a| a.eq_ignore_ascii_case(name)) {
            let wrong = match *name {
                "iot:Subscribe"
                    if resources
                        .iter()
                        .any(|r| matches!(resource_type(r), Some(("topic", _)))) =>
                {
                    " (it lists topic/… resources, which iot:Subscribe never uses)"
                }
                "iot:Publish" | "iot:Receive" | "iot:RetainPublish"
                    if resources
                        .iter()
                        .any(|r| matches!(resource_type(r), Some(("topicfilter", _)))) =>
                {
                    " (it lists topicfilter/… resources, which only iot:Subscribe uses)"
                }
                _ => "",
            };
            say(
                ProblemKind::NeverMatches,
                at,
                format!(
                    "{name} is checked on {} resources and this statement has none{wrong}, so it never applies to {name}",
                    ty.map(|t| format!("{t}/…")).unwrap_or_else(|| "\"*\"".into())
                ),
            );
        }
    }
    // With one action the message above already says it.
    if !any_action_can_match && covered.len() > 1 {
        say(
            ProblemKind::NeverMatches,
            at,
            "no action of this statement has a resource of its type here: the statement never matches".into(),
        );
    }
}

/// `arn:aws:iot:us-east-1:123456789012:topic/a/b` gives `("topic", "a/b")`; `None` when the
/// type is a wildcard or the string is not an IoT ARN.
fn resource_type(r: &str) -> Option<(&str, &str)> {
    let tail = r.splitn(6, ':').nth(5)?;
    let (ty, name) = tail.split_once('/').unwrap_or((tail, ""));
    (!ty.contains(['*', '?', '$'])).then_some((ty, name))
}

/// Could resource pattern `r` match a resource of type `ty` (`None`: `*`)?
fn fits(r: &str, ty: Option<&str>) -> bool {
    if r.contains('*') && resource_type(r).is_none() {
        return true;
    }
    match (resource_type(r), ty) {
        (Some((t, _)), Some(want)) => t == want,
        (Some(_), None) => false,
        (None, _) => r == "*",
    }
}
