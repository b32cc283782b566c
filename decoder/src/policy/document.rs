//! Policy documents read from JSON: a bare document, the output of `aws iot get-policy`
//! (the document is a string in `policyDocument`), or of `aws iot get-effective-policies`
//! (`effectivePolicies`, each with its `policyName`). Everything is checked here once, so
//! evaluation never meets a malformed statement.

use serde_json::Value;

use super::condition::{Condition, Operator, OperatorError};
use super::error::PolicyError;

/// The one policy language version AWS IoT Core policies use.
pub const VERSION: &str = "2012-10-17";

/// One policy document and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// The policy's name when the file gave one (`policyName`), else the file's name.
    pub name: String,
    /// `Version` as written; `None` when the document has none.
    pub version: Option<String>,
    pub statements: Vec<Statement>,
    /// The document's characters other than whitespace: AWS counts these against its
    /// 2048-character limit.
    pub size: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// `Action` / `Resource` (the listed ones), or `NotAction` / `NotResource` (all but these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Targets {
    Listed(Vec<String>),
    AllBut(Vec<String>),
}

impl Targets {
    pub fn patterns(&self) -> &[String] {
        match self {
            Targets::Listed(v) | Targets::AllBut(v) => v,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// Position in the document's `Statement` list, from 0 (the JSON pointer's index).
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub actions: Targets,
    pub resources: Targets,
    pub conditions: Vec<Condition>,
    /// `/Statement/2` (or `/Statement` for a single statement object).
    pub pointer: String,
}

/// Reads every policy in `text`. `source_name` (the file) goes into errors and names
/// documents that carry no name of their own.
pub fn parse_policies(source_name: &str, text: &str) -> Result<Vec<Policy>, PolicyError> {
    let value = parse_json(source_name, "", text)?;
    let shape = |pointer: &str, what: &str| PolicyError::Shape {
        source_name: source_name.to_string(),
        pointer: pointer.to_string(),
        what: what.to_string(),
    };
    let Value::Object(map) = &value else {
        return Err(shape("", "a policy is a JSON object"));
    };
    if let Some(list) = map.get("effectivePolicies") {
        let Value::Array(list) = list else {
            return Err(shape(
                "/effectivePolicies",
                "effectivePolicies is not a list",
            ));
        };
        let mut out = Vec::new();
        for (i, entry) in list.iter().enumerate() {
            let at = format!("/effectivePolicies/{i}");
            let name = entry
                .get("policyName")
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(|| format!("{source_name}#{i}"));
            let doc = entry
                .get("policyDocument")
                .ok_or_else(|| shape(&at, "an effective policy without a policyDocument"))?;
            out.push(embedded(
                source_name,
                &format!("{at}/policyDocument"),
                name,
                doc,
            )?);
        }
        return Ok(out);
    }
    if let Some(doc) = map.get("policyDocument") {
        let name = map
            .get("policyName")
            .and_then(Value::as_str)
            .unwrap_or(source_name)
            .to_string();
        return Ok(vec![embedded(source_name, "/policyDocument", name, doc)?]);
    }
    let size = non_whitespace(text);
    Ok(vec![document(
        source_name,
        "",
        source_name.to_string(),
        &value,
        size,
    )?])
}

/// `policyDocument` is a JSON string in the AWS CLI's output; an object is taken too.
fn embedded(source_name: &str, at: &str, name: String, doc: &Value) -> Result<Policy, PolicyError> {
    match doc {
        Value::String(text) => {
            let inner = parse_json(source_name, &format!(" (policy {name:?}, {at})"), text)?;
            let at_name = format!("{source_name} (policy {name:?})");
            document(&at_name, "", name, &inner, non_whitespace(text))
        }
        Value::Object(_) => {
            let size = non_whitespace(&doc.to_string());
            document(source_name, at, name, doc, size)
        }
        _ => Err(PolicyError::Shape {
            source_name: source_name.to_string(),
            pointer: at.to_string(),
            what: "policyDocument is neither a string nor an object".into(),
        }),
    }
}

fn parse_json(source_name: &str, within: &str, text: &str) -> Result<Value, PolicyError> {
    serde_json::from_str(text).map_err(|e| PolicyError::Syntax {
        source_name: source_name.to_string(),
        within: within.to_string(),
        line: e.line(),
        column: e.column(),
        message: strip_position(&e.to_string()),
    })
}

/// serde_json ends its message with " at line L column C", which the error says already.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

fn non_whitespace(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

fn document(
    source_name: &str,
    at: &str,
    name: String,
    value: &Value,
    size: usize,
) -> Result<Policy, PolicyError> {
    let shape = |pointer: String, what: String| PolicyError::Shape {
        source_name: source_name.to_string(),
        pointer,
        what,
    };
    let Value::Object(map) = value else {
        return Err(shape(
            at.to_string(),
            "a policy document is a JSON object".into(),
        ));
    };
    for key in map.keys() {
        if !matches!(key.as_str(), "Version" | "Statement" | "Id") {
            return Err(shape(
                format!("{at}/{}", pointer_escape(key)),
                format!("{key:?} is not a policy document element (Version, Statement, Id)"),
            ));
        }
    }
    let version = match map.get("Version") {
        None => None,
        Some(Value::String(v)) if v == VERSION => Some(v.clone()),
        Some(v) => {
            return Err(shape(
                format!("{at}/Version"),
                format!("Version is {v}; AWS IoT Core policies use \"{VERSION}\""),
            ))
        }
    };
    let statements = match map.get("Statement") {
        None => {
            return Err(shape(
                at.to_string(),
                "the document has no Statement".into(),
            ))
        }
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, s)| statement(source_name, format!("{at}/Statement/{i}"), i, s))
            .collect::<Result<Vec<_>, _>>()?,
        Some(s @ Value::Object(_)) => {
            vec![statement(source_name, format!("{at}/Statement"), 0, s)?]
        }
        Some(_) => {
            return Err(shape(
                format!("{at}/Statement"),
                "Statement is neither an object nor a list of objects".into(),
            ))
        }
    };
    Ok(Policy {
        name,
        version,
        statements,
        size,
    })
}

fn statement(
    source_name: &str,
    at: String,
    index: usize,
    v: &Value,
) -> Result<Statement, PolicyError> {
    let shape = |pointer: String, what: String| PolicyError::Shape {
        source_name: source_name.to_string(),
        pointer,
        what,
    };
    let Value::Object(map) = v else {
        return Err(shape(at, "a statement is a JSON object".into()));
    };
    for key in map.keys() {
        if !matches!(
            key.as_str(),
            "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource" | "Condition"
        ) {
            return Err(shape(
                format!("{at}/{}", pointer_escape(key)),
                format!(
                    "{key:?} is not a statement element (Sid, Effect, Action, NotAction, Resource, NotResource, Condition)"
                ),
            ));
        }
    }
    let sid = match map.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(shape(format!("{at}/Sid"), "Sid is not a string".into())),
    };
    let effect = match map.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => {
            return Err(shape(
                format!("{at}/Effect"),
                format!("Effect is {other:?}; it is \"Allow\" or \"Deny\""),
            ))
        }
        None => {
            return Err(shape(
                at,
                "the statement has no Effect (\"Allow\" or \"Deny\")".into(),
            ))
        }
    };
    let actions = targets(source_name, &at, map, "Action", "NotAction")?;
    let resources = targets(source_name, &at, map, "Resource", "NotResource")?;
    let conditions = match map.get("Condition") {
        None => Vec::new(),
        Some(c) => conditions(source_name, &format!("{at}/Condition"), c)?,
    };
    Ok(Statement {
        index,
        sid,
        effect,
        actions,
        resources,
        conditions,
        pointer: at,
    })
}

fn targets(
    source_name: &str,
    at: &str,
    map: &serde_json::Map<String, Value>,
    listed: &str,
    all_but: &str,
) -> Result<Targets, PolicyError> {
    let shape = |pointer: String, what: String| PolicyError::Shape {
        source_name: source_name.to_string(),
        pointer,
        what,
    };
    match (map.get(listed), map.get(all_but)) {
        (Some(_), Some(_)) => Err(shape(
            at.to_string(),
            format!("the statement has both {listed} and {all_but}; it takes one"),
        )),
        (None, None) => Err(shape(
            at.to_string(),
            format!("the statement has neither {listed} nor {all_but}"),
        )),
        (Some(v), None) => Ok(Targets::Listed(strings(
            source_name,
            &format!("{at}/{listed}"),
            v,
        )?)),
        (None, Some(v)) => Ok(Targets::AllBut(strings(
            source_name,
            &format!("{at}/{all_but}"),
            v,
        )?)),
    }
}

/// A string or a non-empty list of strings.
fn strings(source_name: &str, at: &str, v: &Value) -> Result<Vec<String>, PolicyError> {
    let bad = |pointer: String| PolicyError::Shape {
        source_name: source_name.to_string(),
        pointer,
        what: "expected a string or a list of strings".into(),
    };
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(list) if !list.is_empty() => list
            .iter()
            .enumerate()
            .map(|(i, x)| {
                x.as_str()
                    .map(String::from)
                    .ok_or_else(|| bad(format!("{at}/{i}")))
            })
            .collect(),
        _ => Err(bad(at.to_string())),
    }
}

/// `{"StringEquals": {"iot:ClientId": ["a", "b"]}, …}`. Condition values may be strings,
/// booleans or numbers (`"Bool": {"…IsAttached": true}`); all compare as their text.
fn conditions(source_name: &str, at: &str, v: &Value) -> Result<Vec<Condition>, PolicyError> {
    let shape = |pointer: String, what: &str| PolicyError::Shape {
        source_name: source_name.to_string(),
        pointer,
        what: what.to_string(),
    };
    let Value::Object(ops) = v else {
        return Err(shape(at.to_string(), "Condition is not an object"));
    };
    let mut out = Vec::new();
    for (op_text, keys) in ops {
        let op_at = format!("{at}/{}", pointer_escape(op_text));
        let operator = Operator::parse(op_text).map_err(|e| {
            if e == OperatorError::Unsupported {
                PolicyError::UnsupportedOperator {
                    source_name: source_name.to_string(),
                    pointer: op_at.clone(),
                    operator: op_text.clone(),
                }
            } else {
                PolicyError::UnknownOperator {
                    source_name: source_name.to_string(),
                    pointer: op_at.clone(),
                    operator: op_text.clone(),
                }
            }
        })?;
        let Value::Object(keys) = keys else {
            return Err(shape(
                op_at,
                "a condition operator takes an object of keys and values",
            ));
        };
        for (key, values) in keys {
            let key_at = format!("{op_at}/{}", pointer_escape(key));
            let one = |x: &Value| match x {
                Value::String(s) => Some(s.clone()),
                Value::Bool(b) => Some(b.to_string()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            let values: Vec<String> = match values {
                Value::Array(list) => list
                    .iter()
                    .map(one)
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        shape(
                            key_at.clone(),
                            "condition values are strings, booleans or numbers",
                        )
                    })?,
                x => vec![one(x).ok_or_else(|| {
                    shape(
                        key_at.clone(),
                        "condition values are strings, booleans or numbers",
                    )
                })?],
            };
            out.push(Condition {
                operator,
                operator_text: op_text.clone(),
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

/// RFC 6901: `~` as `~0`, `/` as `~1`.
pub fn pointer_escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
