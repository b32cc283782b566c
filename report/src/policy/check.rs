//! `iotscope policy check`: every request evaluated against every policy file; exit 0 when
//! all are allowed, 1 when one is denied.

use std::fmt::Write as _;

use iotscope_decoder::cert;
use iotscope_decoder::policy::{self, device, Decision, Device, Policy, Thing, Verdict};

use super::{read, PolicyCheckOptions, PolicyCommandError};
use crate::Format;

/// Evaluates the requests; the verdicts in the order the requests were given.
pub fn verdicts(opts: &PolicyCheckOptions) -> Result<Vec<Verdict>, PolicyCommandError> {
    if opts.requests.is_empty() {
        return Err(PolicyCommandError::NoRequest);
    }
    let policies: Vec<Policy> = super::load(&opts.policies)?;
    let device = device_of(opts)?;
    Ok(opts
        .requests
        .iter()
        .map(|r| policy::evaluate(&policies, &device, r))
        .collect())
}

fn device_of(opts: &PolicyCheckOptions) -> Result<Device, PolicyCommandError> {
    let certificate = match &opts.cert {
        None => None,
        Some(path) => {
            let bytes = read(path)?;
            let first = cert::summarize_pem_or_der(&bytes)
                .into_iter()
                .find_map(|(_, der)| cert::identity(&der));
            Some(first.ok_or_else(|| PolicyCommandError::NoCertificate {
                path: path.display().to_string(),
            })?)
        }
    };
    Ok(Device {
        client_id: opts.client_id.clone(),
        // Naming the thing says the certificate is attached to it: that is how AWS finds
        // the thing of a connection in the first place.
        thing: opts.thing.as_ref().map(|name| Thing {
            name: name.clone(),
            type_name: opts.thing_type.clone(),
            attributes: opts.thing_attrs.clone(),
            attached: true,
        }),
        certificate,
        source_ip: opts.source_ip,
        region: opts.region.clone().or_else(|| {
            opts.endpoint
                .as_deref()
                .and_then(device::region_of_endpoint)
        }),
        account: opts.account.clone(),
        domain: opts.endpoint.clone(),
    })
}

/// Runs the command: prints the verdicts and gives the exit status.
pub fn run(opts: PolicyCheckOptions) -> Result<u8, PolicyCommandError> {
    let verdicts = verdicts(&opts)?;
    match opts.format {
        Format::Text => print!("{}", text(&verdicts)),
        Format::Json => print!("{}", json_lines(&verdicts)),
    }
    Ok(exit_status(&verdicts))
}

pub fn exit_status(verdicts: &[Verdict]) -> u8 {
    u8::from(verdicts.iter().any(|v| v.decision == Decision::Deny))
}

/// One JSON object per request, one per line.
pub fn json_lines(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    for v in verdicts {
        out.push_str(&serde_json::to_string(v).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// For people: per request the decision, what decided it, the variables, the warnings and,
/// for a deny, the statement to add.
pub fn text(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    for (i, v) in verdicts.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{} {}", v.action, v.resource);
        let word = match v.decision {
            Decision::Allow => "ALLOW",
            Decision::Deny => "DENY",
        };
        let reason = serde_json::to_value(v.reason)
            .ok()
            .and_then(|r| r.as_str().map(String::from))
            .unwrap_or_default();
        if v.statements.is_empty() {
            let _ = writeln!(out, "  {word} ({reason}): no statement allows it");
        } else {
            let _ = writeln!(out, "  {word} ({reason}):");
            for s in &v.statements {
                let sid = s
                    .sid
                    .as_deref()
                    .map(|x| format!(" (Sid {x:?})"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    {} policy {:?} statement {}{sid}",
                    s.effect.as_str(),
                    s.policy,
                    s.index
                );
            }
        }
        for u in &v.variables {
            match (&u.value, &u.note) {
                (Some(val), _) => {
                    let _ = writeln!(out, "  ${{{}}} = {val:?}", u.name);
                }
                (None, note) => {
                    let _ = writeln!(
                        out,
                        "  ${{{}}} has no value: {}",
                        u.name,
                        note.as_deref().unwrap_or("unknown")
                    );
                }
            }
        }
        for w in &v.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
        if let Some(s) = &v.suggestion {
            let _ = writeln!(out, "  to allow it, add this statement ({}):", s.text);
            let _ = writeln!(out, "    {}", s.statement.to_json());
        }
    }
    out
}
