//! [`Aws`]: the [`AccountSource`] that asks the AWS API, with its per-run cache.
//!
//! Every answer is kept for the run, failures included: a replay of a thousand connections of
//! one device makes one iot:DescribeCertificate. A failure that would repeat whatever is asked
//! (no network, no credentials, a time-out) also stops later calls: they fail at once, saying
//! which call failed first, so a dead network costs one time-out, not one per question.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use iotscope_account::{
    AccountSource, CaRecord, CallFailure, CertificateRecord, Endpoints, LogEntry, LogQuery, Lookup,
    PolicyRecord, ThingRecord,
};

use crate::calls::{self, Answer, CallCounts};
use crate::client::AwsOptions;
use crate::worker::{Worker, WorkerError};

/// The online account source behind `--aws`.
pub struct Aws {
    worker: Result<Worker, String>,
    counts: CallCounts,
    /// The first failure that stops later calls.
    stopped: Option<CallFailure>,
    endpoints: Option<Lookup<Endpoints>>,
    certificates: HashMap<String, Lookup<CertificateRecord>>,
    cas: HashMap<String, Lookup<CaRecord>>,
    policies: HashMap<String, Lookup<Vec<PolicyRecord>>>,
    things: HashMap<String, Lookup<Vec<ThingRecord>>>,
    logs: HashMap<String, Lookup<Vec<LogEntry>>>,
}

impl Aws {
    /// Makes the source. Starts its thread, but reads no configuration and makes no call until
    /// the first question.
    pub fn new(options: AwsOptions) -> Aws {
        Aws {
            worker: Worker::start(options)
                .map_err(|e| format!("could not start the AWS client's thread: {e}")),
            counts: Arc::new(Mutex::new(BTreeMap::new())),
            stopped: None,
            endpoints: None,
            certificates: HashMap::new(),
            cas: HashMap::new(),
            policies: HashMap::new(),
            things: HashMap::new(),
            logs: HashMap::new(),
        }
    }

    /// The requests sent so far, by IAM name (each page of a listing counts).
    pub fn calls_made(&self) -> BTreeMap<&'static str, usize> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Asks one question (unless an earlier failure stopped calls), and notes a failure that
    /// should stop the later ones.
    fn ask<T, F, Fut>(&mut self, first_call: &'static str, question: F) -> Lookup<T>
    where
        T: Send + 'static,
        F: FnOnce(crate::client::Clients, CallCounts) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Answer<T>> + Send + 'static,
    {
        if let Some(earlier) = &self.stopped {
            return Lookup::Failed(CallFailure {
                call: first_call,
                error: format!(
                    "not attempted: {} failed earlier in this run ({})",
                    earlier.call, earlier.error
                ),
            });
        }
        let worker = match &self.worker {
            Ok(w) => w,
            Err(e) => {
                return Lookup::Failed(CallFailure {
                    call: first_call,
                    error: e.clone(),
                })
            }
        };
        let counts = self.counts.clone();
        let answer = match worker.ask(move |clients| async move {
            // Without a region the SDK can neither sign nor pick an endpoint: say what to set
            // instead of its "missing signing region".
            if clients.region.is_none() {
                return Answer::Failed {
                    failure: CallFailure {
                        call: first_call,
                        error: "no region: give --aws-region, or set AWS_REGION or the profile's region".into(),
                    },
                    stops_later_calls: true,
                };
            }
            question(clients, counts).await
        }) {
            Ok(answer) => answer,
            Err(WorkerError::TimedOut) => Answer::Failed {
                failure: CallFailure {
                    call: first_call,
                    error: format!(
                        "timed out: no answer within {} s",
                        crate::worker::QUESTION_TIMEOUT.as_secs()
                    ),
                },
                stops_later_calls: true,
            },
            Err(WorkerError::Gone(e)) => Answer::Failed {
                failure: CallFailure {
                    call: first_call,
                    error: e,
                },
                stops_later_calls: true,
            },
        };
        if let Answer::Failed {
            failure,
            stops_later_calls: true,
        } = &answer
        {
            self.stopped = Some(failure.clone());
        }
        answer.into_lookup()
    }
}

impl AccountSource for Aws {
    fn endpoints(&mut self) -> Lookup<Endpoints> {
        if let Some(cached) = &self.endpoints {
            return cached.clone();
        }
        let answer = self.ask("iot:DescribeEndpoint", |clients, counts| async move {
            calls::endpoints(&clients, &counts).await
        });
        self.endpoints = Some(answer.clone());
        answer
    }

    fn certificate(&mut self, certificate_id: &str) -> Lookup<CertificateRecord> {
        let key = certificate_id.to_ascii_lowercase();
        if let Some(cached) = self.certificates.get(&key) {
            return cached.clone();
        }
        let id = key.clone();
        let answer = self.ask("iot:DescribeCertificate", |clients, counts| async move {
            calls::certificate(&clients, &counts, &id).await
        });
        self.certificates.insert(key, answer.clone());
        answer
    }

    fn ca_certificate(&mut self, ca_certificate_id: &str) -> Lookup<CaRecord> {
        let key = ca_certificate_id.to_ascii_lowercase();
        if let Some(cached) = self.cas.get(&key) {
            return cached.clone();
        }
        let id = key.clone();
        let answer = self.ask("iot:DescribeCACertificate", |clients, counts| async move {
            calls::ca_certificate(&clients, &counts, &id).await
        });
        self.cas.insert(key, answer.clone());
        answer
    }

    fn attached_policies(&mut self, certificate_arn: &str) -> Lookup<Vec<PolicyRecord>> {
        if let Some(cached) = self.policies.get(certificate_arn) {
            return cached.clone();
        }
        let arn = certificate_arn.to_string();
        let answer = self.ask("iot:ListAttachedPolicies", |clients, counts| async move {
            calls::attached_policies(&clients, &counts, &arn).await
        });
        self.policies
            .insert(certificate_arn.to_string(), answer.clone());
        answer
    }

    fn things_of(&mut self, certificate_arn: &str) -> Lookup<Vec<ThingRecord>> {
        if let Some(cached) = self.things.get(certificate_arn) {
            return cached.clone();
        }
        let arn = certificate_arn.to_string();
        let answer = self.ask("iot:ListPrincipalThings", |clients, counts| async move {
            calls::things_of(&clients, &counts, &arn).await
        });
        self.things
            .insert(certificate_arn.to_string(), answer.clone());
        answer
    }

    fn log_entries(&mut self, query: &LogQuery) -> Lookup<Vec<LogEntry>> {
        let key = format!("{query:?}");
        if let Some(cached) = self.logs.get(&key) {
            return cached.clone();
        }
        let q = query.clone();
        let answer = self.ask("logs:FilterLogEvents", |clients, counts| async move {
            calls::log_entries(&clients, &counts, &q).await
        });
        self.logs.insert(key, answer.clone());
        answer
    }
}
