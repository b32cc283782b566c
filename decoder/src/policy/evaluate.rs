//! Evaluation, as AWS IoT Core does it (the IAM logic): an explicit deny in any policy
//! wins, else any allow allows, else the request is denied implicitly.

use serde::Serialize;

use super::actions::Request;
use super::device::Device;
use super::document::{Effect, Policy, Statement, Targets};
use super::pattern::{self, Sub};
use super::resource;
use super::suggest::{self, Suggestion};
use super::variables::{self, VariableUse};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allow,
    Deny,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    ExplicitDeny,
    Allowed,
    ImplicitDeny,
}

/// A statement that decided a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatementRef {
    /// The policy's name (or its file's).
    pub policy: String,
    /// Position in the document's `Statement` list, from 0.
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
}

/// The answer for one request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    pub action: &'static str,
    pub resource: String,
    pub decision: Decision,
    pub reason: Reason,
    /// The deny statements for an explicit deny, the allow statements for an allow, none
    /// for an implicit deny.
    pub statements: Vec<StatementRef>,
    /// For an implicit deny: the smallest statement that would allow the request.
    pub suggestion: Option<Suggestion>,
    /// Every policy variable met on the way, with its value or why it has none.
    pub variables: Vec<VariableUse>,
    pub warnings: Vec<String>,
    /// Statements that could not be counted (a variable or condition key without a value):
    /// the decision might have gone the other way with them.
    #[serde(skip)]
    pub undecided: usize,
}

/// Does a statement apply to the request?
enum Applies {
    Yes,
    No,
    /// It would have, but for a variable or condition key without a value.
    NotDecided(String),
}

pub fn evaluate(policies: &[Policy], device: &Device, request: &Request) -> Verdict {
    let subject = resource::subject(device, request);
    let mut uses = Vec::new();
    let mut warnings = Vec::new();
    let mut allows = Vec::new();
    let mut denies = Vec::new();
    let mut undecided = 0;
    for policy in policies {
        for st in &policy.statements {
            let at = || StatementRef {
                policy: policy.name.clone(),
                index: st.index,
                sid: st.sid.clone(),
                effect: st.effect,
            };
            match applies(st, device, request, &subject, &mut uses) {
                Applies::Yes => match st.effect {
                    Effect::Allow => allows.push((at(), st)),
                    Effect::Deny => denies.push((at(), st)),
                },
                Applies::No => {}
                Applies::NotDecided(why) => {
                    undecided += 1;
                    warnings.push(format!(
                        "statement {} of policy {:?} ({}) was not counted: {why}",
                        st.index,
                        policy.name,
                        st.effect.as_str()
                    ))
                }
            }
        }
    }
    let (decision, reason, statements) = if !denies.is_empty() {
        warnings.push(
            "an explicit Deny overrides every Allow in every policy: narrow or remove the deny statement".into(),
        );
        (
            Decision::Deny,
            Reason::ExplicitDeny,
            denies.into_iter().map(|(r, _)| r).collect::<Vec<_>>(),
        )
    } else if !allows.is_empty() {
        for (r, st) in &allows {
            if too_broad(st) {
                warnings.push(format!(
                    "statement {} of policy {:?} allows every action on every resource (iot:* on *): far more than this request needs",
                    r.index, r.policy
                ));
            }
        }
        (
            Decision::Allow,
            Reason::Allowed,
            allows.into_iter().map(|(r, _)| r).collect(),
        )
    } else {
        (Decision::Deny, Reason::ImplicitDeny, Vec::new())
    };
    let suggestion =
        (reason == Reason::ImplicitDeny).then(|| suggest::allow_statement(device, request));
    Verdict {
        action: request.action.name(),
        resource: resource::display(device, request),
        decision,
        reason,
        statements,
        suggestion,
        variables: uses,
        warnings,
        undecided,
    }
}

fn applies(
    st: &Statement,
    device: &Device,
    request: &Request,
    subject: &[Sub],
    uses: &mut Vec<VariableUse>,
) -> Applies {
    let action = pattern::known(request.action.name());
    let action_hit = |p: &String| pattern::matches(&pattern::literal_pattern(p), &action, true);
    let action_ok = match &st.actions {
        Targets::Listed(list) => list.iter().any(action_hit),
        Targets::AllBut(list) => !list.iter().any(action_hit),
    };
    if !action_ok {
        return Applies::No;
    }
    let mut hit = false;
    let mut missing = None;
    for p in st.resources.patterns() {
        match variables::substitute(p, device, uses) {
            Ok(toks) => {
                let here = pattern::matches(&toks, subject, false);
                hit |= here;
                if !here && missing.is_none() && would_match_if_known(&toks, device, subject) {
                    missing = Some(format!(
                        "resource {p:?} names a region or account, and {} (give --region or --endpoint, and --account-id)",
                        match (&device.region, &device.account) {
                            (None, None) => "neither is known",
                            (None, Some(_)) => "the region is not known",
                            _ => "the account is not known",
                        }
                    ));
                }
            }
            Err(u) => {
                missing.get_or_insert(format!(
                    "${{{}}} in resource {p:?} has no value ({})",
                    u.name, u.why
                ));
            }
        }
    }
    let resource_ok = match (&st.resources, hit, missing) {
        (Targets::Listed(_), true, _) => true,
        (Targets::Listed(_), false, None) => return Applies::No,
        (Targets::Listed(_), false, Some(why)) => return Applies::NotDecided(why),
        (Targets::AllBut(_), true, _) => return Applies::No,
        (Targets::AllBut(_), false, Some(why)) => return Applies::NotDecided(why),
        (Targets::AllBut(_), false, None) => true,
    };
    debug_assert!(resource_ok);
    for c in &st.conditions {
        if let Err(not) = c.check(device, uses) {
            return if not.unknown {
                Applies::NotDecided(not.why)
            } else {
                Applies::No
            };
        }
    }
    Applies::Yes
}

/// Would the pattern match if the unknown region and account were the ones it names? Then
/// the answer rests on what iotscope was not told, and the user should hear so.
fn would_match_if_known(toks: &[pattern::Tok], device: &Device, subject: &[Sub]) -> bool {
    if device.region.is_some() && device.account.is_some() {
        return false;
    }
    // The ARN's fields: arn, partition, service, region, account, resource.
    let mut fields: Vec<Vec<pattern::Tok>> = vec![Vec::new()];
    for t in toks {
        if *t == pattern::Tok::Lit(':') && fields.len() < 6 {
            fields.push(Vec::new());
        } else if let Some(last) = fields.last_mut() {
            last.push(*t);
        }
    }
    if fields.len() != 6 {
        return false;
    }
    if device.region.is_none() {
        fields[3] = vec![pattern::Tok::Star];
    }
    if device.account.is_none() {
        fields[4] = vec![pattern::Tok::Star];
    }
    let relaxed: Vec<pattern::Tok> = fields.join(&pattern::Tok::Lit(':'));
    pattern::matches(&relaxed, subject, false)
}

/// `iot:*` (or `*`) on `*`: the statement allows everything a device can do.
pub fn too_broad(st: &Statement) -> bool {
    let every_action = matches!(&st.actions, Targets::Listed(l) if l.iter().any(|a| a == "*" || a.eq_ignore_ascii_case("iot:*")));
    let every_resource = matches!(&st.resources, Targets::Listed(l) if l.iter().any(|r| r == "*"));
    st.effect == Effect::Allow && every_action && every_resource
}
