//! Diagnoses: the rules that read a Trace and say, in the guide's terms, what went wrong.
//!
//! Rules read the trace only — never a socket or a clock — so a live connection and its
//! replay give the same findings. Each rule lives with its guide section; the catalogue holds
//! the words.

pub mod account_rules;
pub mod authentication;
pub mod authorization;
pub mod catalogue;
pub mod cert_files;
pub mod code;
pub mod connection;
pub mod finding;
pub mod interception;
pub mod log_entries;
pub mod mqtt_rules;
pub mod names;
pub mod policy_rules;
pub mod registry;
pub mod root_cause;
pub mod section;
pub mod security;

pub use catalogue::{Entry, Values, CATALOGUE};
pub use code::Code;
pub use facts::Context;
pub use finding::{Certainty, Evidence, Finding, Section, Severity};
pub use registry::ClientIds;

use crate::account::{AccountFacts, Lookup};
use crate::event::Direction;
use crate::facts::{self, Facts};
use crate::trace::Trace;

/// The findings for one connection, most severe first.
pub fn diagnose(trace: &Trace, ctx: &Context) -> Vec<Finding> {
    findings(&Facts::new(trace), ctx)
}

/// The findings for one connection from its summary (which the caller may go on to print),
/// most severe first.
pub fn findings(f: &Facts, ctx: &Context) -> Vec<Finding> {
    findings_with(f, ctx, None)
}

/// The findings for one connection, with what the account says about it (`--account`,
/// `--aws`): the attached policies take the place of `--policy`, and the account's own rules
/// run before the root cause is chosen.
pub fn findings_with(f: &Facts, ctx: &Context, account: Option<&AccountFacts>) -> Vec<Finding> {
    let with_account;
    let ctx = match account.and_then(|a| given_by_account(a, ctx)) {
        Some(given) => {
            with_account = Context {
                policy: Some(given),
                ..ctx.clone()
            };
            &with_account
        }
        None => ctx,
    };
    let mut values = values(f, ctx);
    if let Some(id) = account.and_then(|a| a.certificate_id.clone()) {
        // The certificate the account was asked about: the device's, also when the wire hides
        // it (TLS 1.3 without keys).
        values.cert_id = Some(id);
    }
    if let Some(arn) = account.and_then(|a| a.certificate.found()?.certificate_arn.clone()) {
        let mut parts = arn.split(':').skip(3);
        let (region, id) = (parts.next(), parts.next());
        if values.region.is_none() {
            values.region = region.filter(|r| !r.is_empty()).map(str::to_string);
        }
        if values.account.is_none() {
            values.account = id.filter(|a| !a.is_empty()).map(str::to_string);
        }
    }
    let mut out = Vec::new();
    if f.device_leg
        .is_some_and(|(_, leg)| leg.presented.is_bad_on_purpose())
    {
        // A `--present` test: the "endpoint" is iotscope showing a bad certificate on
        // purpose, so a refusal is the device passing, not a fault to explain.
        interception::rules(f, &mut out);
    } else {
        connection::rules(f, ctx, &mut out);
        authentication::rules(f, ctx, &mut out);
        authorization::rules(f, &values, &mut out);
        mqtt_rules::rules(f, &mut out);
        security::rules(f, ctx, &mut out);
        interception::rules(f, &mut out);
        connection::endpoint_closed(f, ctx, &mut out);
        mqtt_rules::server_disconnect(f, &mut out);
        policy_rules::rules(f, ctx, &values, &mut out);
        if let Some(account) = account {
            account_rules::rules(f, account, &values, &mut out);
        }
    }
    root_cause::apply(f, &mut out);
    for fd in &mut out {
        if fd.next_steps.is_empty() {
            fd.next_steps = catalogue::steps(fd.code, &values);
        }
    }
    // Stable order: severity, then the time of the first evidence.
    out.sort_by(|a, b| {
        b.severity.cmp(&a.severity).then_with(|| {
            let ta = a.evidence.first().map_or(0.0, |e| e.t);
            let tb = b.evidence.first().map_or(0.0, |e| e.t);
            ta.total_cmp(&tb)
        })
    });
    out
}

/// The connection's own values for the next-step templates.
pub fn values(f: &facts::Facts, ctx: &Context) -> Values {
    let device_leaf = f
        .device_chain
        .and_then(|(_, c)| c.first())
        .filter(|c| c.parse_error.is_none());
    Values {
        endpoint: ctx
            .expected_endpoint
            .clone()
            .or_else(|| f.sni().map(str::to_string))
            // Behind an HTTP proxy, the host the device asked it for.
            .or_else(|| {
                f.proxy_requests
                    .last()
                    .map(|(_, r)| crate::preamble::target_host(&r.target).to_string())
                    .filter(|h| !h.is_empty())
            })
            .or_else(|| f.trace.identity.endpoint_name.clone()),
        port: f.endpoint_port,
        sni: f.sni().map(str::to_string),
        cert_id: device_leaf.map(|c| c.sha256.clone()),
        client_id: f.connect().map(|(_, c)| c.client_id.clone()),
        topic: f.mqtt.iter().find_map(|(e, p)| match &p.body {
            crate::mqtt::Body::Publish(x) if e.dir == Direction::DeviceToEndpoint => {
                Some(x.topic.clone())
            }
            _ => None,
        }),
        filter: None,
        region: ctx.policy.as_ref().and_then(|p| p.region.clone()),
        account: ctx.policy.as_ref().and_then(|p| p.account.clone()),
    }
}

/// The policies the account says are attached to the certificate, as `--policy` would give
/// them: each named with its version, the thing attached, and the region and account of the
/// certificate's ARN (what the user gave with `--thing`, `--region`, `--account-id` wins).
/// `None` when the account named no policy, or none of them reads.
pub fn given_by_account(account: &AccountFacts, ctx: &Context) -> Option<crate::policy::Given> {
    let Lookup::Found(records) = &account.policies else {
        return None;
    };
    let mut policies = Vec::new();
    for r in records {
        let name = match &r.version {
            Some(v) => format!("{} (version {v})", r.name),
            None => r.name.clone(),
        };
        if let Ok(parsed) = crate::policy::parse_policies(&name, &r.document) {
            policies.extend(parsed.into_iter().map(|mut p| {
                p.name = name.clone();
                p
            }));
        }
    }
    if policies.is_empty() {
        return None;
    }
    let user = ctx.policy.clone().unwrap_or_default();
    let arn = account
        .certificate
        .found()
        .and_then(|c| c.certificate_arn.clone())
        .unwrap_or_default();
    let mut parts = arn.split(':').skip(3).map(str::to_string);
    let (region, id) = (parts.next(), parts.next());
    // The thing the account attached, unless the user named one with --thing.
    let thing = account
        .things
        .found()
        .and_then(|t| t.first())
        .filter(|t| user.thing.as_ref().is_none_or(|name| *name == t.name));
    Some(crate::policy::Given {
        policies,
        thing: user.thing.or_else(|| thing.map(|t| t.name.clone())),
        region: user.region.or(region.filter(|r| !r.is_empty())),
        account: user.account.or(id.filter(|a| !a.is_empty())),
        from_account: true,
        thing_type: thing.and_then(|t| t.type_name.clone()),
        thing_attributes: thing
            .map(|t| {
                t.attributes
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Diagnoses the connections of one capture or one proxy run, in the order they finish:
/// each connection's own findings, plus what only shows across connections (another
/// connection taking over its client id). Every feeder's output goes through one of these.
pub struct Diagnoser {
    context: Context,
    client_ids: ClientIds,
    /// AUTHZ.POLICY_NOT_CHECKED was said: once per run is enough.
    said_not_checked: bool,
}

impl Diagnoser {
    pub fn new(context: Context) -> Diagnoser {
        Diagnoser {
            context,
            client_ids: ClientIds::new(),
            said_not_checked: false,
        }
    }

    /// The findings of one finished connection, most severe first; a cross-connection
    /// finding comes after the connection's own of the same severity.
    pub fn connection(&mut self, facts: &Facts) -> Vec<Finding> {
        self.connection_with(facts, None)
    }

    /// The same, with what the account says about the connection.
    pub fn connection_with(
        &mut self,
        facts: &Facts,
        account: Option<&AccountFacts>,
    ) -> Vec<Finding> {
        let mut found = findings_with(facts, &self.context, account);
        if self.said_not_checked {
            found.retain(|f| f.code != Code::AuthzPolicyNotChecked);
        } else {
            self.said_not_checked = found.iter().any(|f| f.code == Code::AuthzPolicyNotChecked);
        }
        if let Some(f) = self.client_ids.observe(facts.trace) {
            // Renderers and the web view take the first finding as the worst.
            let at = found
                .iter()
                .position(|x| x.severity < f.severity)
                .unwrap_or(found.len());
            found.insert(at, f);
        }
        found
    }
}

/// The worst severity among findings, if any.
pub fn worst(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).max()
}
