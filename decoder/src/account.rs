//! What the AWS account says about a connection: certificate status, attached policies, the
//! thing, the account's endpoints and the AWSIotLogsV2 entries that concern it.
//!
//! The wire cannot tell a refused certificate that is unregistered from one that is inactive or
//! revoked (TLS 1.3 shows only "handshake done, then the endpoint closed"); the account can. These
//! are plain records, with no I/O: a source (files or the AWS API, in `iotscope-account`) fills an
//! [`AccountFacts`] per connection before diagnosis, and the rules in [`crate::diagnose`] read it.
//! Each question keeps apart "the account does not hold it" ([`Lookup::NotFound`]), "nobody
//! asked" ([`Lookup::Unknown`]) and "asking failed" ([`Lookup::Failed`]), because only the first
//! is evidence about the device.

use std::collections::BTreeMap;

/// What one question to the account gave.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Lookup<T> {
    /// The account holds it.
    Found(T),
    /// The account was asked and does not hold it (DescribeCertificate: ResourceNotFoundException;
    /// a certificate ID in none of the files' list-certificates / describe-certificate output
    /// when the files do hold certificates).
    NotFound,
    /// Nobody was asked: no file holds this kind of fact, or no --aws.
    #[default]
    Unknown,
    /// Asking failed: the call named as IAM names it ("iot:DescribeCertificate") and the error
    /// as the SDK / file reader gave it (no credentials, AccessDenied, throttled, no network).
    Failed(CallFailure),
}

impl<T> Lookup<T> {
    /// The record, when the account holds it.
    pub fn found(&self) -> Option<&T> {
        match self {
            Lookup::Found(value) => Some(value),
            _ => None,
        }
    }

    /// True when nobody was asked.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Lookup::Unknown)
    }

    /// The same answer with its record mapped.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Lookup<U> {
        match self {
            Lookup::Found(value) => Lookup::Found(f(value)),
            Lookup::NotFound => Lookup::NotFound,
            Lookup::Unknown => Lookup::Unknown,
            Lookup::Failed(failure) => Lookup::Failed(failure),
        }
    }
}

/// A question to the account that could not be answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallFailure {
    /// The call as IAM names it, e.g. "iot:DescribeCertificate".
    pub call: &'static str,
    /// The error as the SDK or the file reader gave it.
    pub error: String,
}

/// A certificate's status as AWS IoT Core reports it (`certificateDescription.status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertStatus {
    /// ACTIVE: the certificate may authenticate.
    Active,
    /// INACTIVE: registered but switched off.
    Inactive,
    /// REVOKED: revoked, permanently refused.
    Revoked,
    /// PENDING_TRANSFER: being transferred to another account.
    PendingTransfer,
    /// REGISTER_INACTIVE: registered inactive (CA-signed registration).
    RegisterInactive,
    /// PENDING_ACTIVATION: waiting for just-in-time registration to activate it.
    PendingActivation,
    /// Any other value, as AWS spelled it.
    Other(String),
}

impl CertStatus {
    /// Reads AWS's spelling ("ACTIVE", "REVOKED", ...).
    pub fn parse(text: &str) -> CertStatus {
        match text {
            "ACTIVE" => CertStatus::Active,
            "INACTIVE" => CertStatus::Inactive,
            "REVOKED" => CertStatus::Revoked,
            "PENDING_TRANSFER" => CertStatus::PendingTransfer,
            "REGISTER_INACTIVE" => CertStatus::RegisterInactive,
            "PENDING_ACTIVATION" => CertStatus::PendingActivation,
            other => CertStatus::Other(other.to_string()),
        }
    }

    /// AWS's spelling of the status.
    pub fn as_str(&self) -> &str {
        match self {
            CertStatus::Active => "ACTIVE",
            CertStatus::Inactive => "INACTIVE",
            CertStatus::Revoked => "REVOKED",
            CertStatus::PendingTransfer => "PENDING_TRANSFER",
            CertStatus::RegisterInactive => "REGISTER_INACTIVE",
            CertStatus::PendingActivation => "PENDING_ACTIVATION",
            CertStatus::Other(other) => other,
        }
    }
}

/// A device certificate registered in the account (DescribeCertificate / ListCertificates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Lower-case hex SHA-256 of the DER: the AWS certificate ID.
    pub certificate_id: String,
    /// The certificate's ARN, the principal policies and things attach to.
    pub certificate_arn: Option<String>,
    /// Its status.
    pub status: CertStatus,
    /// The ID of the registered CA that signed it, for CA-registered certificates.
    pub ca_certificate_id: Option<String>,
    /// DEFAULT or SNI_ONLY.
    pub certificate_mode: Option<String>,
    /// When it was registered, as AWS printed it.
    pub creation_date: Option<String>,
}

/// A CA certificate registered in the account (DescribeCACertificate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaRecord {
    /// Lower-case hex SHA-256 of the CA certificate's DER.
    pub certificate_id: String,
    /// Its status (ACTIVE or INACTIVE).
    pub status: CertStatus,
    /// Its ARN.
    pub arn: Option<String>,
}

/// A policy attached to a certificate, with the document of its default version (GetPolicy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyRecord {
    /// The policy name.
    pub name: String,
    /// Its ARN.
    pub arn: Option<String>,
    /// The default version's ID.
    pub version: Option<String>,
    /// The policy document, as JSON text.
    pub document: String,
}

/// A thing attached to a certificate (ListPrincipalThings + DescribeThing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThingRecord {
    /// The thing name.
    pub name: String,
    /// Its thing type, if any.
    pub type_name: Option<String>,
    /// Its attributes.
    pub attributes: BTreeMap<String, String>,
}

/// A domain configuration of the account (DescribeDomainConfiguration / ListDomainConfigurations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainRecord {
    /// The domain configuration's name.
    pub name: String,
    /// The domain name devices connect to.
    pub domain_name: Option<String>,
    /// ENABLED or DISABLED.
    pub status: Option<String>,
    /// DATA, CREDENTIAL_PROVIDER or JOBS.
    pub service_type: Option<String>,
}

/// The host names this account's devices may connect to.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Endpoints {
    /// The iot:Data-ATS endpoint (DescribeEndpoint).
    pub ats: Option<String>,
    /// The domain configurations.
    pub domains: Vec<DomainRecord>,
}

/// One AWSIotLogsV2 entry (fields as AWS names them; unknown fields kept in `raw`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LogEntry {
    /// `timestamp` as logged ("2026-12-07 01:02:03.456").
    pub timestamp: String,
    /// The same instant in milliseconds since the Unix epoch (UTC), when it could be read.
    pub timestamp_ms: Option<i64>,
    /// `logLevel` (ERROR, WARN, INFO, DEBUG).
    pub log_level: Option<String>,
    /// `traceId`.
    pub trace_id: Option<String>,
    /// `accountId`.
    pub account_id: Option<String>,
    /// `status` (Success or Failure).
    pub status: Option<String>,
    /// `eventType` (Connect, Disconnect, Publish-In, Publish-Out, Subscribe, ...).
    pub event_type: Option<String>,
    /// `protocol` (MQTT, HTTP).
    pub protocol: Option<String>,
    /// `clientId`.
    pub client_id: Option<String>,
    /// `principalId`: for certificates, the certificate ID.
    pub principal_id: Option<String>,
    /// `sourceIp`.
    pub source_ip: Option<String>,
    /// `sourcePort`.
    pub source_port: Option<u16>,
    /// `reason` (AUTHORIZATION_FAILURE, ...).
    pub reason: Option<String>,
    /// `details`.
    pub details: Option<String>,
    /// `topicName`.
    pub topic_name: Option<String>,
    /// `disconnectReason` (DUPLICATE_CLIENTID, MQTT_KEEP_ALIVE_TIMEOUT, ...).
    pub disconnect_reason: Option<String>,
    /// The entry as read, for output.
    pub raw: String,
}

/// Which log entries to fetch. `iotscope_account::join::belongs` is the exact rule: inside the
/// window; a `clientId` or `principalId` the entry has must not differ from the one asked; and
/// when either was asked, at least one of them must agree. A source may answer more broadly
/// (FilterLogEvents on the window and the client ID alone); `resolve` applies the rule.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LogQuery {
    /// Entries of this `clientId`.
    pub client_id: Option<String>,
    /// Entries of this `principalId` (the certificate ID).
    pub principal_id: Option<String>,
    /// Only entries at or after this instant (ms since the Unix epoch).
    pub since_ms: Option<i64>,
    /// Only entries at or before this instant (ms since the Unix epoch).
    pub until_ms: Option<i64>,
}

/// What the account says about one connection.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AccountFacts {
    /// The certificate ID of the device's leaf certificate, if the wire showed it (or, when
    /// `certificate_presumed`, the one the source was told is the device's).
    pub certificate_id: Option<String>,
    /// The wire hid the device's certificate (TLS 1.3 without keys), and `certificate_id` is
    /// the only device certificate the source describes, taken as the device's: what follows
    /// from it is likely, not certain.
    pub certificate_presumed: bool,
    /// The device certificate's record.
    pub certificate: Lookup<CertificateRecord>,
    /// The record of the CA that signed it, for CA-registered certificates.
    pub ca: Lookup<CaRecord>,
    /// The policies attached to the certificate.
    pub policies: Lookup<Vec<PolicyRecord>>,
    /// The things attached to the certificate.
    pub things: Lookup<Vec<ThingRecord>>,
    /// The account's endpoints.
    pub endpoints: Lookup<Endpoints>,
    /// The log entries joined to this connection.
    pub log: Lookup<Vec<LogEntry>>,
}
