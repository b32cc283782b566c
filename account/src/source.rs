//! The questions iotscope asks an AWS account, one method per read-only call.
//!
//! Sync on purpose: the reporter is sync. A source that talks to the network runs its own
//! runtime on its own thread and answers over channels, so it may be called from inside a tokio
//! worker (the proxy). Each source caches per run: one DescribeCertificate per certificate ID,
//! however many connections ask.

use iotscope_decoder::account::{
    CaRecord, CertificateRecord, Endpoints, LogEntry, LogQuery, Lookup, PolicyRecord, ThingRecord,
};

/// Where account facts come from: files or the AWS API.
pub trait AccountSource {
    /// The account's endpoints: iot:DescribeEndpoint (iot:Data-ATS) and
    /// iot:ListDomainConfigurations / iot:DescribeDomainConfiguration.
    fn endpoints(&mut self) -> Lookup<Endpoints>;
    /// One device certificate by its ID: iot:DescribeCertificate.
    fn certificate(&mut self, certificate_id: &str) -> Lookup<CertificateRecord>;
    /// One CA certificate by its ID: iot:DescribeCACertificate.
    fn ca_certificate(&mut self, ca_certificate_id: &str) -> Lookup<CaRecord>;
    /// The policies attached to a certificate, with their documents: iot:ListAttachedPolicies
    /// and iot:GetPolicy for each.
    fn attached_policies(&mut self, certificate_arn: &str) -> Lookup<Vec<PolicyRecord>>;
    /// The things attached to a certificate: iot:ListPrincipalThings and iot:DescribeThing for
    /// each.
    fn things_of(&mut self, certificate_arn: &str) -> Lookup<Vec<ThingRecord>>;
    /// AWSIotLogsV2 entries matching the query: logs:FilterLogEvents.
    fn log_entries(&mut self, query: &LogQuery) -> Lookup<Vec<LogEntry>>;
    /// The device certificate the user pointed at, when the wire hides the device's (TLS 1.3
    /// without keys): for files, the only certificate a describe-certificate file describes.
    /// No call is made for it; a source that cannot tell answers `None` (the default).
    fn presumed_device_certificate(&mut self) -> Option<String> {
        None
    }
}

/// One source shared by the front end's option structs (which are cloned, and reach the proxy's
/// threads): asked one question at a time, under a lock, so its cache serves every connection.
#[derive(Clone)]
pub struct SharedSource(std::sync::Arc<std::sync::Mutex<Box<dyn AccountSource + Send>>>);

impl SharedSource {
    /// Shares `source`.
    pub fn new(source: Box<dyn AccountSource + Send>) -> SharedSource {
        SharedSource(std::sync::Arc::new(std::sync::Mutex::new(source)))
    }

    fn with<T>(&self, ask: impl FnOnce(&mut dyn AccountSource) -> T) -> T {
        // A panic while asking leaves the source as it was between questions: go on with it.
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        ask(guard.as_mut())
    }
}

impl std::fmt::Debug for SharedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSource")
    }
}

impl AccountSource for SharedSource {
    fn endpoints(&mut self) -> Lookup<Endpoints> {
        self.with(|s| s.endpoints())
    }
    fn certificate(&mut self, certificate_id: &str) -> Lookup<CertificateRecord> {
        self.with(|s| s.certificate(certificate_id))
    }
    fn ca_certificate(&mut self, ca_certificate_id: &str) -> Lookup<CaRecord> {
        self.with(|s| s.ca_certificate(ca_certificate_id))
    }
    fn attached_policies(&mut self, certificate_arn: &str) -> Lookup<Vec<PolicyRecord>> {
        self.with(|s| s.attached_policies(certificate_arn))
    }
    fn things_of(&mut self, certificate_arn: &str) -> Lookup<Vec<ThingRecord>> {
        self.with(|s| s.things_of(certificate_arn))
    }
    fn log_entries(&mut self, query: &LogQuery) -> Lookup<Vec<LogEntry>> {
        self.with(|s| s.log_entries(query))
    }
    fn presumed_device_certificate(&mut self) -> Option<String> {
        self.with(|s| s.presumed_device_certificate())
    }
}
