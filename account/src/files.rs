//! The offline source: the JSON the AWS CLI prints, given with `--account FILE...`.
//!
//! Each file is recognised by its shape, not its name, so the output of
//! `aws iot describe-certificate ... > anything.json` works as it is. A folder stands for the
//! files in it. What a file cannot say, its name may: `list-attached-policies` and
//! `list-principal-things` do not print the principal they were asked about, so a certificate ID
//! (64 hex digits) in the file name, or a `"target"` / `"principal"` key added to the JSON,
//! names it; without either, the file is about the one certificate the files describe, and is
//! refused when they describe several. `get-policy` and `describe-thing` files without a list
//! are taken as attached to the device's certificate, like `--policy` and `--thing`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use iotscope_decoder::account::{
    CaRecord, CertStatus, CertificateRecord, DomainRecord, Endpoints, LogEntry, LogQuery, Lookup,
    PolicyRecord, ThingRecord,
};
use serde_json::{Map, Value};

use crate::join;
use crate::logs;
use crate::source::AccountSource;

/// The AWS CLI outputs `--account` reads, for error messages.
pub const SHAPES: &str = "describe-endpoint, describe-certificate, list-certificates, \
describe-ca-certificate, list-ca-certificates, list-attached-policies, get-policy, list-principal-things, list-principal-things-v2, \
describe-thing, describe-domain-configuration, list-domain-configurations, \
logs filter-log-events, or AWSIotLogsV2 entries one per line";

/// A file `--account` could not use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file.
    pub path: PathBuf,
    /// The line, for JSON Lines.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} line {line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for FileError {}

/// Which AWS CLI output a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `aws iot describe-endpoint`.
    DescribeEndpoint,
    /// `aws iot describe-certificate`.
    DescribeCertificate,
    /// `aws iot list-certificates`.
    ListCertificates,
    /// `aws iot describe-ca-certificate`.
    DescribeCaCertificate,
    /// `aws iot list-ca-certificates`.
    ListCaCertificates,
    /// `aws iot list-attached-policies`.
    ListAttachedPolicies,
    /// `aws iot get-policy` (or `get-policy-version`).
    GetPolicy,
    /// `aws iot list-principal-things`.
    ListPrincipalThings,
    /// `aws iot list-principal-things-v2` (`principalThingObjects`, each with its thing's name).
    ListPrincipalThingsV2,
    /// `aws iot describe-thing`.
    DescribeThing,
    /// `aws iot describe-domain-configuration`.
    DescribeDomainConfiguration,
    /// `aws iot list-domain-configurations`.
    ListDomainConfigurations,
    /// `aws logs filter-log-events`.
    FilterLogEvents,
    /// AWSIotLogsV2 entries, one JSON object per line (or one entry alone).
    LogLines,
}

impl Shape {
    /// The CLI command that prints this shape.
    pub fn command(self) -> &'static str {
        match self {
            Shape::DescribeEndpoint => "describe-endpoint",
            Shape::DescribeCertificate => "describe-certificate",
            Shape::ListCertificates => "list-certificates",
            Shape::DescribeCaCertificate => "describe-ca-certificate",
            Shape::ListCaCertificates => "list-ca-certificates",
            Shape::ListAttachedPolicies => "list-attached-policies",
            Shape::GetPolicy => "get-policy",
            Shape::ListPrincipalThings => "list-principal-things",
            Shape::ListPrincipalThingsV2 => "list-principal-things-v2",
            Shape::DescribeThing => "describe-thing",
            Shape::DescribeDomainConfiguration => "describe-domain-configuration",
            Shape::ListDomainConfigurations => "list-domain-configurations",
            Shape::FilterLogEvents => "logs filter-log-events",
            Shape::LogLines => "AWSIotLogsV2 entries",
        }
    }
}

/// The shape of one parsed JSON document, if it is one `--account` knows.
pub fn shape_of(value: &Value) -> Option<Shape> {
    let o = value.as_object()?;
    let has = |k: &str| o.contains_key(k);
    let array = |k: &str| o.get(k).is_some_and(Value::is_array);
    if let Some(d) = o.get("certificateDescription").and_then(Value::as_object) {
        let ca = d.contains_key("autoRegistrationStatus")
            || has("registrationConfig")
            || d.get("certificateArn")
                .and_then(Value::as_str)
                .is_some_and(|a| a.contains(":cacert/"));
        return Some(if ca {
            Shape::DescribeCaCertificate
        } else {
            Shape::DescribeCertificate
        });
    }
    Some(if has("endpointAddress") {
        Shape::DescribeEndpoint
    } else if array("certificates") {
        // list-ca-certificates prints the same key, with CA ARNs (`…:cacert/ID`).
        let ca = o["certificates"].as_array().is_some_and(|list| {
            list.iter().any(|c| {
                c.get("certificateArn")
                    .and_then(Value::as_str)
                    .is_some_and(|a| a.contains(":cacert/"))
            })
        });
        if ca {
            Shape::ListCaCertificates
        } else {
            Shape::ListCertificates
        }
    } else if array("policies") {
        Shape::ListAttachedPolicies
    } else if has("policyDocument") && has("policyName") {
        Shape::GetPolicy
    } else if array("things") {
        Shape::ListPrincipalThings
    } else if array("principalThingObjects") {
        Shape::ListPrincipalThingsV2
    } else if has("thingName") && (has("thingArn") || has("attributes") || has("thingId")) {
        Shape::DescribeThing
    } else if has("domainConfigurationName") && has("domainName") {
        Shape::DescribeDomainConfiguration
    } else if array("domainConfigurations") {
        Shape::ListDomainConfigurations
    } else if o.get("events").and_then(Value::as_array).is_some_and(|e| {
        e.iter()
            .all(|x| x.get("message").is_some_and(Value::is_string))
    }) {
        Shape::FilterLogEvents
    } else if has("timestamp") && has("eventType") {
        Shape::LogLines
    } else {
        return None;
    })
}

/// The account as the files describe it.
#[derive(Debug, Default, Clone)]
pub struct Files {
    certificates: BTreeMap<String, CertificateRecord>,
    certificate_files: bool,
    /// The certificates describe-certificate files describe (not merely listed).
    described: Vec<String>,
    cas: BTreeMap<String, CaRecord>,
    /// describe-ca-certificate's certificatePem, by CA certificate ID.
    ca_pems: BTreeMap<String, String>,
    ca_files: bool,
    /// list-attached-policies: the certificate ID it is for (`None`: the only one), and names.
    attached: Vec<(Option<String>, Vec<String>)>,
    policies: BTreeMap<String, PolicyRecord>,
    /// list-principal-things: the certificate ID it is for, and thing names.
    principal_things: Vec<(Option<String>, Vec<String>)>,
    things: BTreeMap<String, ThingRecord>,
    endpoints: Option<Endpoints>,
    log: Option<Vec<LogEntry>>,
    /// Unnamed lists, kept to refuse them once the certificates are all read.
    unnamed: Vec<(PathBuf, Shape)>,
}

impl Files {
    /// Reads the files (a folder: every file in it, by name), each recognised by its shape.
    pub fn open<P: AsRef<Path>>(paths: &[P]) -> Result<Files, FileError> {
        let mut files = Files::default();
        for path in expand(paths)? {
            files.read(&path)?;
        }
        // The same log given twice (an export and its JSON Lines, as in a folder holding both)
        // is one log: an entry counts once.
        if let Some(log) = &mut files.log {
            let mut seen = std::collections::HashSet::new();
            log.retain(|e| seen.insert(e.raw.clone()));
        }
        if files.certificates.len() > 1 {
            if let Some((path, shape)) = files.unnamed.first() {
                return Err(FileError {
                    path: path.clone(),
                    line: None,
                    message: format!(
                        "{} does not say which certificate it is for, and the files describe {} certificates: name the file {}.CERTIFICATE_ID.json, or add \"{}\": \"CERTIFICATE_ARN\" to its JSON",
                        shape.command(),
                        files.certificates.len(),
                        shape.command(),
                        if *shape == Shape::ListAttachedPolicies { "target" } else { "principal" },
                    ),
                });
            }
        }
        Ok(files)
    }

    /// Every device certificate the files hold (described or only listed), by ID. With
    /// [`AccountSource::attached_policies`] and [`AccountSource::things_of`] for each, this is
    /// the whole account as the files know it: what `iotscope endpoint --account` serves.
    pub fn certificates(&self) -> impl Iterator<Item = &CertificateRecord> {
        self.certificates.values()
    }

    /// Every CA certificate the files hold, by ID.
    pub fn ca_certificates(&self) -> impl Iterator<Item = &CaRecord> {
        self.cas.values()
    }

    /// A CA certificate's PEM, when its describe-ca-certificate file printed it.
    pub fn ca_certificate_pem(&self, ca_certificate_id: &str) -> Option<&str> {
        self.ca_pems
            .get(&ca_certificate_id.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// Every policy a get-policy file holds, by name.
    pub fn policies(&self) -> impl Iterator<Item = &PolicyRecord> {
        self.policies.values()
    }

    /// Every thing a describe-thing file holds, by name.
    pub fn things(&self) -> impl Iterator<Item = &ThingRecord> {
        self.things.values()
    }

    /// The log entries the files hold, in file order; `None` when no file held any.
    pub fn log(&self) -> Option<&[LogEntry]> {
        self.log.as_deref()
    }

    fn read(&mut self, path: &Path) -> Result<(), FileError> {
        let fail = |line: Option<usize>, message: String| FileError {
            path: path.to_path_buf(),
            line,
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(None, e.to_string()))?;
        let value = match serde_json::from_str::<Value>(&text) {
            Ok(v) => v,
            Err(whole) => return self.read_lines(path, &text, whole),
        };
        let Some(shape) = shape_of(&value) else {
            return Err(fail(
                None,
                format!(
                    "not a file iotscope knows: expected the JSON the AWS CLI prints for {SHAPES}"
                ),
            ));
        };
        let o = value.as_object().expect("shape_of takes objects only");
        let named = certificate_id_in_name(path);
        match shape {
            Shape::DescribeCertificate => {
                self.certificate_files = true;
                let r = certificate(&o["certificateDescription"]).ok_or_else(|| {
                    fail(None, "describe-certificate without a certificateId".into())
                })?;
                if !self.described.contains(&r.certificate_id) {
                    self.described.push(r.certificate_id.clone());
                }
                self.certificates.insert(r.certificate_id.clone(), r);
            }
            Shape::ListCertificates => {
                self.certificate_files = true;
                for c in o["certificates"].as_array().into_iter().flatten() {
                    if let Some(r) = certificate(c) {
                        self.certificates
                            .entry(r.certificate_id.clone())
                            .or_insert(r);
                    }
                }
            }
            Shape::DescribeCaCertificate => {
                self.ca_files = true;
                let r = ca(&o["certificateDescription"]).ok_or_else(|| {
                    fail(
                        None,
                        "describe-ca-certificate without a certificateId".into(),
                    )
                })?;
                if let Some(pem) = str_of(&o["certificateDescription"], "certificatePem") {
                    self.ca_pems.insert(r.certificate_id.clone(), pem);
                }
                self.cas.insert(r.certificate_id.clone(), r);
            }
            Shape::ListCaCertificates => {
                self.ca_files = true;
                for c in o["certificates"].as_array().into_iter().flatten() {
                    if let Some(r) = ca(c) {
                        self.cas.entry(r.certificate_id.clone()).or_insert(r);
                    }
                }
            }
            Shape::ListAttachedPolicies => {
                let names = o["policies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| str_of(p, "policyName"))
                    .collect();
                let principal = named.or_else(|| str_of(&value, "target").map(|a| id_of_arn(&a)));
                if principal.is_none() {
                    self.unnamed.push((path.to_path_buf(), shape));
                }
                self.attached.push((principal, names));
            }
            Shape::GetPolicy => {
                let name = str_of(&value, "policyName").unwrap_or_default();
                self.policies.insert(
                    name.clone(),
                    PolicyRecord {
                        name,
                        arn: str_of(&value, "policyArn"),
                        version: str_of(&value, "defaultVersionId")
                            .or_else(|| str_of(&value, "policyVersionId")),
                        document: str_of(&value, "policyDocument").unwrap_or_default(),
                    },
                );
            }
            Shape::ListPrincipalThings | Shape::ListPrincipalThingsV2 => {
                let names = if shape == Shape::ListPrincipalThings {
                    o["things"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                } else {
                    o["principalThingObjects"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|t| str_of(t, "thingName"))
                        .collect()
                };
                let principal =
                    named.or_else(|| str_of(&value, "principal").map(|a| id_of_arn(&a)));
                if principal.is_none() {
                    self.unnamed.push((path.to_path_buf(), shape));
                }
                self.principal_things.push((principal, names));
            }
            Shape::DescribeThing => {
                let name = str_of(&value, "thingName").unwrap_or_default();
                let attributes = o
                    .get("attributes")
                    .and_then(Value::as_object)
                    .map(strings)
                    .unwrap_or_default();
                self.things.insert(
                    name.clone(),
                    ThingRecord {
                        name,
                        type_name: str_of(&value, "thingTypeName"),
                        attributes,
                    },
                );
            }
            Shape::DescribeEndpoint => {
                let address = str_of(&value, "endpointAddress");
                let e = self.endpoints.get_or_insert_with(Endpoints::default);
                if e.ats.is_none() {
                    e.ats = address;
                } else if address != e.ats {
                    // A second account's or region's endpoint given too: one more name.
                    e.domains.push(DomainRecord {
                        name: "describe-endpoint".into(),
                        domain_name: address,
                        status: None,
                        service_type: Some("DATA".into()),
                    });
                }
            }
            Shape::DescribeDomainConfiguration => {
                let record = DomainRecord {
                    name: str_of(&value, "domainConfigurationName").unwrap_or_default(),
                    domain_name: str_of(&value, "domainName"),
                    status: str_of(&value, "domainConfigurationStatus"),
                    service_type: str_of(&value, "serviceType"),
                };
                let e = self.endpoints.get_or_insert_with(Endpoints::default);
                e.domains
                    .retain(|d| d.name != record.name || d.domain_name.is_some());
                e.domains.push(record);
            }
            Shape::ListDomainConfigurations => {
                let e = self.endpoints.get_or_insert_with(Endpoints::default);
                for d in o["domainConfigurations"].as_array().into_iter().flatten() {
                    let name = str_of(d, "domainConfigurationName").unwrap_or_default();
                    if !e.domains.iter().any(|x| x.name == name) {
                        e.domains.push(DomainRecord {
                            name,
                            domain_name: None,
                            status: None,
                            service_type: str_of(d, "serviceType"),
                        });
                    }
                }
            }
            Shape::FilterLogEvents => {
                let log = self.log.get_or_insert_with(Vec::new);
                for (i, e) in o["events"].as_array().into_iter().flatten().enumerate() {
                    let message = e["message"].as_str().unwrap_or_default();
                    let parsed = serde_json::from_str::<Value>(message).ok();
                    let fallback = e.get("timestamp").and_then(Value::as_i64);
                    match parsed.and_then(|v| logs::entry(&v, message, fallback)) {
                        Some(entry) => log.push(entry),
                        None => {
                            return Err(fail(
                                None,
                                format!("event {} of filter-log-events is not an AWSIotLogsV2 entry (a JSON object with timestamp and eventType)", i + 1),
                            ))
                        }
                    }
                }
            }
            Shape::LogLines => {
                let entry = logs::entry(&value, &text, None).expect("shape_of checked the fields");
                self.log.get_or_insert_with(Vec::new).push(entry);
            }
        }
        Ok(())
    }

    /// A file that is not one JSON document: AWSIotLogsV2 entries one per line, or an error.
    fn read_lines(
        &mut self,
        path: &Path,
        text: &str,
        whole: serde_json::Error,
    ) -> Result<(), FileError> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry = serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| logs::entry(&v, line, None));
            match entry {
                Some(e) => entries.push(e),
                None if entries.is_empty() && i == first_line(text) && !line.trim_start().starts_with('{') => {
                    return Err(FileError {
                        path: path.to_path_buf(),
                        line: None,
                        message: format!("not JSON ({whole}): expected the JSON the AWS CLI prints for {SHAPES}"),
                    })
                }
                None => {
                    return Err(FileError {
                        path: path.to_path_buf(),
                        line: Some(i + 1),
                        message: "not an AWSIotLogsV2 entry (one JSON object with timestamp and eventType per line)".into(),
                    })
                }
            }
        }
        if entries.is_empty() {
            return Err(FileError {
                path: path.to_path_buf(),
                line: None,
                message: format!("empty: expected the JSON the AWS CLI prints for {SHAPES}"),
            });
        }
        self.log.get_or_insert_with(Vec::new).extend(entries);
        Ok(())
    }

    /// The certificate ID a principal-less list is about: the only certificate described.
    fn sole_certificate(&self) -> Option<&str> {
        (self.certificates.len() <= 1)
            .then(|| self.certificates.keys().next().map(String::as_str))
            .flatten()
    }

    fn for_certificate<'a>(
        &'a self,
        lists: &'a [(Option<String>, Vec<String>)],
        certificate_id: &'a str,
    ) -> Option<Vec<&'a String>> {
        let sole = self.sole_certificate();
        let mut found = None;
        for (principal, names) in lists {
            let about = match principal {
                Some(p) => p.eq_ignore_ascii_case(certificate_id),
                // Unnamed: about the one certificate described, or, with no certificate file,
                // about whichever certificate the device shows.
                None => sole.is_none_or(|s| s.eq_ignore_ascii_case(certificate_id)),
            };
            if about {
                found.get_or_insert_with(Vec::new).extend(names);
            }
        }
        found
    }
}

impl AccountSource for Files {
    fn endpoints(&mut self) -> Lookup<Endpoints> {
        match &self.endpoints {
            Some(e) => Lookup::Found(e.clone()),
            None => Lookup::Unknown,
        }
    }

    fn certificate(&mut self, certificate_id: &str) -> Lookup<CertificateRecord> {
        match self.certificates.get(&certificate_id.to_ascii_lowercase()) {
            Some(r) => Lookup::Found(r.clone()),
            None if self.certificate_files => Lookup::NotFound,
            None => Lookup::Unknown,
        }
    }

    fn ca_certificate(&mut self, ca_certificate_id: &str) -> Lookup<CaRecord> {
        match self.cas.get(&ca_certificate_id.to_ascii_lowercase()) {
            Some(r) => Lookup::Found(r.clone()),
            None if self.ca_files => Lookup::NotFound,
            None => Lookup::Unknown,
        }
    }

    fn attached_policies(&mut self, certificate_arn: &str) -> Lookup<Vec<PolicyRecord>> {
        let id = id_of_arn(certificate_arn);
        let record = |name: &String| self.policies.get(name).cloned().ok_or_else(|| name.clone());
        match self.for_certificate(&self.attached, &id) {
            Some(names) => {
                let (found, missing): (Vec<_>, Vec<_>) =
                    names.into_iter().map(record).partition(Result::is_ok);
                if let Some(Err(name)) = missing.into_iter().next() {
                    return Lookup::Failed(iotscope_decoder::account::CallFailure {
                        call: "iot:GetPolicy",
                        error: format!("no get-policy file for the attached policy {name} among the --account files"),
                    });
                }
                Lookup::Found(found.into_iter().filter_map(Result::ok).collect())
            }
            None if self.attached.is_empty() && !self.policies.is_empty() => {
                Lookup::Found(self.policies.values().cloned().collect())
            }
            None if !self.attached.is_empty() => Lookup::Found(Vec::new()),
            None => Lookup::Unknown,
        }
    }

    fn things_of(&mut self, certificate_arn: &str) -> Lookup<Vec<ThingRecord>> {
        let id = id_of_arn(certificate_arn);
        let record = |name: &String| {
            self.things
                .get(name)
                .cloned()
                .unwrap_or_else(|| ThingRecord {
                    name: name.clone(),
                    type_name: None,
                    attributes: BTreeMap::new(),
                })
        };
        match self.for_certificate(&self.principal_things, &id) {
            Some(names) => Lookup::Found(names.into_iter().map(record).collect()),
            None if self.principal_things.is_empty() && !self.things.is_empty() => {
                Lookup::Found(self.things.values().cloned().collect())
            }
            None if !self.principal_things.is_empty() => Lookup::Found(Vec::new()),
            None => Lookup::Unknown,
        }
    }

    fn presumed_device_certificate(&mut self) -> Option<String> {
        match self.described.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        }
    }

    fn log_entries(&mut self, query: &LogQuery) -> Lookup<Vec<LogEntry>> {
        match &self.log {
            Some(entries) => Lookup::Found(
                entries
                    .iter()
                    .filter(|e| join::belongs(e, query))
                    .cloned()
                    .collect(),
            ),
            None => Lookup::Unknown,
        }
    }
}

/// The files named, a folder standing for its files (sorted by name, hidden ones left out).
fn expand<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<PathBuf>, FileError> {
    let mut out = Vec::new();
    for p in paths {
        let p = p.as_ref();
        if p.is_dir() {
            let read = std::fs::read_dir(p).map_err(|e| FileError {
                path: p.to_path_buf(),
                line: None,
                message: e.to_string(),
            })?;
            let mut inside: Vec<PathBuf> = read
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.is_file())
                .filter(|f| {
                    !f.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect();
            inside.sort();
            out.extend(inside);
        } else {
            out.push(p.to_path_buf());
        }
    }
    Ok(out)
}

fn first_line(text: &str) -> usize {
    text.lines().position(|l| !l.trim().is_empty()).unwrap_or(0)
}

/// A certificate ID (64 hex digits) in a file's name, e.g. `list-attached-policies.<ID>.json`.
fn certificate_id_in_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    name.split(|c: char| !c.is_ascii_hexdigit())
        .find(|part| part.len() == 64)
        .map(str::to_string)
}

/// The certificate ID of a certificate ARN (`arn:aws:iot:REGION:ACCOUNT:cert/ID`), or the text
/// itself in lower case when it is an ID already.
pub fn id_of_arn(arn: &str) -> String {
    arn.rsplit_once("cert/")
        .map_or(arn, |(_, id)| id)
        .to_ascii_lowercase()
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn strings(o: &Map<String, Value>) -> BTreeMap<String, String> {
    o.iter()
        .map(|(k, v)| {
            let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
            (k.clone(), text)
        })
        .collect()
}

/// A date as the CLI printed it: ISO text, or the epoch seconds AWS CLI v1 prints.
fn date(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => n.as_f64().and_then(|secs| {
            time::OffsetDateTime::from_unix_timestamp(secs as i64)
                .ok()
                .map(|t| {
                    format!(
                        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                        t.year(),
                        u8::from(t.month()),
                        t.day(),
                        t.hour(),
                        t.minute(),
                        t.second()
                    )
                })
        }),
        _ => None,
    }
}

fn certificate(v: &Value) -> Option<CertificateRecord> {
    Some(CertificateRecord {
        certificate_id: str_of(v, "certificateId")?.to_ascii_lowercase(),
        certificate_arn: str_of(v, "certificateArn"),
        status: CertStatus::parse(&str_of(v, "status").unwrap_or_default()),
        ca_certificate_id: str_of(v, "caCertificateId").map(|s| s.to_ascii_lowercase()),
        certificate_mode: str_of(v, "certificateMode"),
        creation_date: v.get("creationDate").and_then(date),
    })
}

fn ca(v: &Value) -> Option<CaRecord> {
    Some(CaRecord {
        certificate_id: str_of(v, "certificateId")?.to_ascii_lowercase(),
        status: CertStatus::parse(&str_of(v, "status").unwrap_or_default()),
        arn: str_of(v, "certificateArn"),
    })
}
