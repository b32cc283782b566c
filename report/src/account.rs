//! What the account said about a connection, as the JSON `account` object and the text
//! "account:" line. Both say the same: each question's answer (found, not found, unknown,
//! failed) so a reader sees which facts the findings rest on.

use iotscope_decoder::account::{AccountFacts, Lookup};
use serde_json::{json, Map, Value};

fn lookup<T>(l: &Lookup<T>, found: impl FnOnce(&T) -> Map<String, Value>) -> Value {
    let mut o = Map::new();
    match l {
        Lookup::Found(v) => {
            o.insert("lookup".into(), "found".into());
            o.extend(found(v));
        }
        Lookup::NotFound => {
            o.insert("lookup".into(), "not_found".into());
        }
        Lookup::Unknown => {
            o.insert("lookup".into(), "unknown".into());
        }
        Lookup::Failed(c) => {
            o.insert("lookup".into(), "failed".into());
            o.insert("call".into(), c.call.into());
            o.insert("error".into(), c.error.clone().into());
        }
    }
    Value::Object(o)
}

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(o) => o,
        _ => Map::new(),
    }
}

/// The `account` object of a connection.
pub fn json(a: &AccountFacts) -> Value {
    json!({
        "certificate_id": a.certificate_id,
        "certificate_presumed": a.certificate_presumed,
        "certificate": lookup(&a.certificate, |c| map(json!({
            "status": c.status.as_str(),
            "arn": c.certificate_arn,
            "ca_certificate_id": c.ca_certificate_id,
            "certificate_mode": c.certificate_mode,
            "creation_date": c.creation_date,
        }))),
        "ca": lookup(&a.ca, |c| map(json!({"status": c.status.as_str(), "arn": c.arn}))),
        "policies": lookup(&a.policies, |ps| map(json!({
            "policies": ps.iter().map(|p| json!({"name": p.name, "version": p.version, "arn": p.arn})).collect::<Vec<_>>(),
        }))),
        "things": lookup(&a.things, |ts| map(json!({
            "things": ts.iter().map(|t| json!({"name": t.name, "type": t.type_name, "attributes": t.attributes})).collect::<Vec<_>>(),
        }))),
        "endpoints": lookup(&a.endpoints, |e| map(json!({
            "ats": e.ats,
            "domains": e.domains.iter().map(|d| json!({"name": d.name, "domain_name": d.domain_name, "status": d.status, "service_type": d.service_type})).collect::<Vec<_>>(),
        }))),
        "log": lookup(&a.log, |entries| map(json!({
            "entries": entries.iter().map(|e| serde_json::from_str::<Value>(&e.raw).unwrap_or_else(|_| Value::String(e.raw.clone()))).collect::<Vec<_>>(),
        }))),
    })
}

/// The "account:" line of the text form, or `None` when nothing was known.
pub fn line(a: &AccountFacts) -> Option<String> {
    let mut parts = Vec::new();
    let id = a
        .certificate_id
        .as_deref()
        .map(|i| format!("{}…", &i[..i.len().min(12)]))
        .unwrap_or_else(|| "not seen".into());
    let id = if a.certificate_presumed {
        format!("{id} (presumed: the wire hides the device's)")
    } else {
        id
    };
    match &a.certificate {
        Lookup::Found(c) => parts.push(format!("certificate {id} {}", c.status.as_str())),
        Lookup::NotFound => parts.push(format!("certificate {id} not registered")),
        Lookup::Failed(c) => parts.push(format!("certificate {id}: {} failed", c.call)),
        Lookup::Unknown => {}
    }
    match &a.policies {
        Lookup::Found(ps) if ps.is_empty() => parts.push("no policy attached".into()),
        Lookup::Found(ps) => parts.push(format!(
            "policies {}",
            ps.iter()
                .map(|p| match &p.version {
                    Some(v) => format!("{} v{v}", p.name),
                    None => p.name.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Lookup::Failed(c) => parts.push(format!("policies: {} failed", c.call)),
        _ => {}
    }
    match &a.things {
        Lookup::Found(ts) if ts.is_empty() => parts.push("no thing attached".into()),
        Lookup::Found(ts) => parts.push(format!(
            "thing {}",
            ts.iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Lookup::Failed(c) => parts.push(format!("things: {} failed", c.call)),
        _ => {}
    }
    match &a.endpoints {
        Lookup::Found(e) => {
            let n = usize::from(e.ats.is_some()) + e.domains.len();
            parts.push(format!("{n} endpoint{}", if n == 1 { "" } else { "s" }));
        }
        Lookup::Failed(c) => parts.push(format!("endpoints: {} failed", c.call)),
        _ => {}
    }
    match &a.log {
        Lookup::Found(l) => parts.push(format!(
            "{} log entr{}",
            l.len(),
            if l.len() == 1 { "y" } else { "ies" }
        )),
        Lookup::Failed(c) => parts.push(format!("log: {} failed", c.call)),
        _ => {}
    }
    (!parts.is_empty()).then(|| format!("account: {}", parts.join("; ")))
}
