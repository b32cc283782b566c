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
}
