//! The read-only calls, one async function per question of [`iotscope_account::AccountSource`],
//! each turning the SDK's answer into the account records iotscope reads.
//!
//! Every request sent is counted by its IAM name (pages of a listing each count), so tests can
//! prove the per-run cache holds: one iot:DescribeCertificate per certificate ID.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_iot::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_async::future::pagination_stream::PaginationStream;
use iotscope_account::logs;
use iotscope_account::{
    CaRecord, CallFailure, CertStatus, CertificateRecord, DomainRecord, Endpoints, LogEntry,
    LogQuery, Lookup, PolicyRecord, ThingRecord,
};

use crate::client::Clients;
use crate::failure::{classify, Failure};

/// The log group AWS IoT Core writes to.
pub const LOG_GROUP: &str = "AWSIotLogsV2";

/// At most this many items from one listing (policies of a certificate, things, domain
/// configurations): the answer is for a report, and a bound keeps a huge account from
/// stalling it.
const MAX_ITEMS: usize = 100;
/// At most this many log events per query.
const MAX_LOG_EVENTS: usize = 10_000;

/// The calls made so far, by IAM name.
pub type CallCounts = Arc<Mutex<BTreeMap<&'static str, usize>>>;

/// The answer to one question: found, not found, or failed (naming the call, and saying
/// whether the failure would repeat for any later call).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer<T> {
    Found(T),
    NotFound,
    Failed {
        failure: CallFailure,
        stops_later_calls: bool,
    },
}

impl<T> Answer<T> {
    pub fn into_lookup(self) -> Lookup<T> {
        match self {
            Answer::Found(v) => Lookup::Found(v),
            Answer::NotFound => Lookup::NotFound,
            Answer::Failed { failure, .. } => Lookup::Failed(failure),
        }
    }
}

/// What a failed step of a question gives back: the whole question ends there.
struct Stop<T>(Answer<T>);

fn count(counts: &CallCounts, call: &'static str) {
    let mut map = counts.lock().unwrap_or_else(|e| e.into_inner());
    *map.entry(call).or_default() += 1;
}

fn stop<T, E, R>(call: &'static str, err: &SdkError<E, R>) -> Stop<T>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    Stop(match classify(err) {
        Failure::NotFound => Answer::NotFound,
        Failure::Failed {
            error,
            stops_later_calls,
        } => Answer::Failed {
            failure: CallFailure { call, error },
            stops_later_calls,
        },
    })
}

fn answer<T>(result: Result<T, Stop<T>>) -> Answer<T> {
    match result {
        Ok(v) => Answer::Found(v),
        Err(Stop(a)) => a,
    }
}

/// Reads a listing page by page (each page counts as one `call`) until it ends or holds
/// `limit` items; `items` takes what a page holds.
async fn listing<O, E, R, T, U>(
    mut pages: PaginationStream<Result<O, SdkError<E, R>>>,
    counts: &CallCounts,
    call: &'static str,
    limit: usize,
    mut items: impl FnMut(O, &mut Vec<T>),
) -> Result<Vec<T>, Stop<U>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let mut all = Vec::new();
    while let Some(page) = pages.next().await {
        count(counts, call);
        items(page.map_err(|e| stop(call, &e))?, &mut all);
        if all.len() >= limit {
            all.truncate(limit);
            break;
        }
    }
    Ok(all)
}

/// iot:DescribeEndpoint (iot:Data-ATS), iot:ListDomainConfigurations and
/// iot:DescribeDomainConfiguration for each.
pub async fn endpoints(clients: &Clients, counts: &CallCounts) -> Answer<Endpoints> {
    answer(
        async {
            const DESCRIBE: &str = "iot:DescribeEndpoint";
            count(counts, DESCRIBE);
            let ats = clients
                .iot
                .describe_endpoint()
                .endpoint_type("iot:Data-ATS")
                .send()
                .await
                .map_err(|e| stop(DESCRIBE, &e))?
                .endpoint_address()
                .map(str::to_string);

            const LIST: &str = "iot:ListDomainConfigurations";
            let pages = clients
                .iot
                .list_domain_configurations()
                .into_paginator()
                .send();
            let names = listing(pages, counts, LIST, MAX_ITEMS, |page, names| {
                names.extend(
                    page.domain_configurations()
                        .iter()
                        .filter_map(|d| d.domain_configuration_name().map(str::to_string)),
                )
            })
            .await?;

            const DESCRIBE_DOMAIN: &str = "iot:DescribeDomainConfiguration";
            let mut domains = Vec::new();
            for name in names {
                count(counts, DESCRIBE_DOMAIN);
                let out = clients
                    .iot
                    .describe_domain_configuration()
                    .domain_configuration_name(&name)
                    .send()
                    .await;
                let d = match out {
                    Ok(d) => d,
                    // Deleted between the listing and now: not one of the account's.
                    Err(e) if classify(&e) == Failure::NotFound => continue,
                    Err(e) => return Err(stop(DESCRIBE_DOMAIN, &e)),
                };
                domains.push(DomainRecord {
                    name,
                    domain_name: d.domain_name().map(str::to_string),
                    status: d
                        .domain_configuration_status()
                        .map(|s| s.as_str().to_string()),
                    service_type: d.service_type().map(|s| s.as_str().to_string()),
                });
            }
            Ok(Endpoints { ats, domains })
        }
        .await,
    )
}

/// iot:DescribeCertificate.
pub async fn certificate(
    clients: &Clients,
    counts: &CallCounts,
    certificate_id: &str,
) -> Answer<CertificateRecord> {
    const CALL: &str = "iot:DescribeCertificate";
    count(counts, CALL);
    let out = match clients
        .iot
        .describe_certificate()
        .certificate_id(certificate_id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => return stop(CALL, &e).0,
    };
    let Some(d) = out.certificate_description() else {
        return Answer::NotFound;
    };
    Answer::Found(CertificateRecord {
        certificate_id: d
            .certificate_id()
            .unwrap_or(certificate_id)
            .to_ascii_lowercase(),
        certificate_arn: d.certificate_arn().map(str::to_string),
        status: d
            .status()
            .map(|s| CertStatus::parse(s.as_str()))
            .unwrap_or_else(|| CertStatus::Other("(none)".into())),
        ca_certificate_id: d.ca_certificate_id().map(str::to_string),
        certificate_mode: d.certificate_mode().map(|m| m.as_str().to_string()),
        creation_date: d.creation_date().map(|t| t.to_string()),
    })
}

/// iot:DescribeCACertificate.
pub async fn ca_certificate(
    clients: &Clients,
    counts: &CallCounts,
    ca_certificate_id: &str,
) -> Answer<CaRecord> {
    const CALL: &str = "iot:DescribeCACertificate";
    count(counts, CALL);
    let out = match clients
        .iot
        .describe_ca_certificate()
        .certificate_id(ca_certificate_id)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => return stop(CALL, &e).0,
    };
    let Some(d) = out.certificate_description() else {
        return Answer::NotFound;
    };
    Answer::Found(CaRecord {
        certificate_id: d
            .certificate_id()
            .unwrap_or(ca_certificate_id)
            .to_ascii_lowercase(),
        status: d
            .status()
            .map(|s| CertStatus::parse(s.as_str()))
            .unwrap_or_else(|| CertStatus::Other("(none)".into())),
        arn: d.certificate_arn().map(str::to_string),
    })
}

/// iot:ListAttachedPolicies on the certificate's ARN, then iot:GetPolicy for each.
pub async fn attached_policies(
    clients: &Clients,
    counts: &CallCounts,
    certificate_arn: &str,
) -> Answer<Vec<PolicyRecord>> {
    answer(
        async {
            const LIST: &str = "iot:ListAttachedPolicies";
            let pages = clients
                .iot
                .list_attached_policies()
                .target(certificate_arn)
                .recursive(false)
                .into_paginator()
                .send();
            let names = listing(pages, counts, LIST, MAX_ITEMS, |page, names| {
                names.extend(
                    page.policies()
                        .iter()
                        .filter_map(|p| p.policy_name().map(str::to_string)),
                )
            })
            .await?;

            const GET: &str = "iot:GetPolicy";
            let mut policies = Vec::new();
            for name in names {
                count(counts, GET);
                let p = clients
                    .iot
                    .get_policy()
                    .policy_name(&name)
                    .send()
                    .await
                    .map_err(|e| stop(GET, &e))?;
                policies.push(PolicyRecord {
                    name: p.policy_name().unwrap_or(&name).to_string(),
                    arn: p.policy_arn().map(str::to_string),
                    version: p.default_version_id().map(str::to_string),
                    document: p.policy_document().unwrap_or_default().to_string(),
                });
            }
            Ok(policies)
        }
        .await,
    )
}

/// iot:ListPrincipalThings on the certificate's ARN, then iot:DescribeThing for each.
pub async fn things_of(
    clients: &Clients,
    counts: &CallCounts,
    certificate_arn: &str,
) -> Answer<Vec<ThingRecord>> {
    answer(
        async {
            const LIST: &str = "iot:ListPrincipalThings";
            let pages = clients
                .iot
                .list_principal_things()
                .principal(certificate_arn)
                .into_paginator()
                .send();
            let names = listing(pages, counts, LIST, MAX_ITEMS, |page, names| {
                names.extend(page.things().iter().cloned())
            })
            .await?;

            const DESCRIBE: &str = "iot:DescribeThing";
            let mut things = Vec::new();
            for name in names {
                count(counts, DESCRIBE);
                let t = clients
                    .iot
                    .describe_thing()
                    .thing_name(&name)
                    .send()
                    .await
                    .map_err(|e| stop(DESCRIBE, &e))?;
                things.push(ThingRecord {
                    name: t.thing_name().unwrap_or(&name).to_string(),
                    type_name: t.thing_type_name().map(str::to_string),
                    attributes: t
                        .attributes()
                        .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                });
            }
            Ok(things)
        }
        .await,
    )
}

/// logs:FilterLogEvents on AWSIotLogsV2, between the query's instants, narrowed server-side to
/// its client ID or principal when they can be written as a filter pattern (the caller still
/// joins entries to connections itself).
pub async fn log_entries(
    clients: &Clients,
    counts: &CallCounts,
    query: &LogQuery,
) -> Answer<Vec<LogEntry>> {
    answer(
        async {
            const CALL: &str = "logs:FilterLogEvents";
            let mut request = clients.logs.filter_log_events().log_group_name(LOG_GROUP);
            if let Some(since) = query.since_ms {
                request = request.start_time(since);
            }
            if let Some(until) = query.until_ms {
                request = request.end_time(until);
            }
            if let Some(pattern) = filter_pattern(query) {
                request = request.filter_pattern(pattern);
            }
            let pages = request.into_paginator().send();
            let entries = listing(pages, counts, CALL, MAX_LOG_EVENTS, |page, entries| {
                for event in page.events() {
                    let Some(message) = event.message() else {
                        continue;
                    };
                    // A message that is not an AWSIotLogsV2 entry (another writer to the
                    // group) is left out.
                    let Ok(value) = serde_json::from_str(message) else {
                        continue;
                    };
                    if let Some(entry) = logs::entry(&value, message, event.timestamp()) {
                        entries.push(entry);
                    }
                }
            })
            .await?;
            Ok(entries)
        }
        .await,
    )
}

/// A CloudWatch Logs JSON filter pattern selecting the query's client ID or principal, when
/// their text needs no escaping (patterns have no escape for a double quote).
fn filter_pattern(query: &LogQuery) -> Option<String> {
    let plain = |s: &str| !s.is_empty() && !s.contains(['"', '\\', '}', '{']);
    let mut terms = Vec::new();
    if let Some(c) = query.client_id.as_deref().filter(|c| plain(c)) {
        terms.push(format!("($.clientId = \"{c}\")"));
    } else if query.client_id.is_some() {
        return None;
    }
    if let Some(p) = query.principal_id.as_deref().filter(|p| plain(p)) {
        terms.push(format!("($.principalId = \"{p}\")"));
    } else if query.principal_id.is_some() {
        return None;
    }
    (!terms.is_empty()).then(|| format!("{{ {} }}", terms.join(" || ")))
}
