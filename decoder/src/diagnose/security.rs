//! Rules for the guide's Security and identity section.

use super::code::Code;
use super::facts::{Context, Facts};
use super::finding::Finding;
use super::names::is_aws_iot_host;

pub fn rules(f: &Facts, ctx: &Context, out: &mut Vec<Finding>) {
    let custom = ctx.custom_domain
        || ctx
            .expected_endpoint
            .as_deref()
            .is_some_and(|e| !is_aws_iot_host(e));
    if !custom {
        return;
    }
    let Some((ev, chain)) = f.server_chain else {
        return;
    };
    let Some(leaf) = chain.first() else {
        return;
    };
    let names = leaf.dns_names();
    if names.len() > 4 {
        out.push(
            Finding::new(
                Code::SecCustomDomainTooManyNames,
                format!(
                    "The endpoint's certificate carries {} domain names ({}); a custom domain's certificate may carry at most four.",
                    names.len(),
                    names.join(", ")
                ),
            )
            .evidence(f.t(ev), format!("endpoint certificate {}", leaf.subject)),
        );
    }
}
