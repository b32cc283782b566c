//! What the endpoint knows about the account, as AWS IoT Core's registry holds it: device
//! certificates by certificate ID with their status, CA certificates, things with their
//! attributes and attached certificates, and the policies attached to each certificate.
//!
//! Why a registry of its own: the endpoint decides every refusal from it (an INACTIVE
//! certificate is refused in the handshake, a policy denies a PUBLISH), and it must be
//! built from plain values so that any source can fill it: the `--registry` JSON file read
//! here, or later the AWS CLI output of `--account`. The JSON file uses the AWS CLI's field
//! names (`certificateId`, `status`, `thingName`, `policyName`, `policyDocument`) so that
//! pieces of `aws iot describe-certificate` or `get-policy` output can be pasted in.
//!
//! The certificate ID is the SHA-256 of the certificate's DER, lower-case hex, as AWS IoT
//! computes it (the decoder's `cert::identity`).

use std::collections::HashMap;
use std::path::Path;

use iotscope_decoder::policy::{parse_policies, Policy, Thing};
use iotscope_proxy::error::Error;
use serde::Deserialize;

/// A certificate's status, as `aws iot describe-certificate` prints it: the account side's own
/// type, so the endpoint and the diagnosis read a status the same way. Only `ACTIVE` lets a
/// device connect: "Devices cannot use a certificate that is not in the ACTIVE state to
/// reconnect" (API reference, UpdateCertificate).
pub use iotscope_decoder::account::CertStatus;

/// Reads a status in AWS's spelling, refusing any value AWS IoT does not use.
fn aws_status<'de, D: serde::Deserializer<'de>>(d: D) -> Result<CertStatus, D::Error> {
    let text = String::deserialize(d)?;
    match CertStatus::parse(&text) {
        CertStatus::Other(other) => Err(serde::de::Error::custom(format!(
            "unknown status {other:?} (ACTIVE, INACTIVE, REVOKED, PENDING_TRANSFER, REGISTER_INACTIVE, PENDING_ACTIVATION)"
        ))),
        status => Ok(status),
    }
}

/// A registered device certificate.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceCert {
    /// SHA-256 of the DER, lower-case hex.
    pub id: String,
    pub status: CertStatus,
    /// Names of the policies attached to it.
    pub policies: Vec<String>,
}

/// A registered CA certificate.
#[derive(Clone, Debug, PartialEq)]
pub struct CaCert {
    pub id: String,
    pub status: CertStatus,
    /// Its DER, when given: a device certificate it issued names it as issuer.
    pub der: Option<Vec<u8>>,
}

/// A thing and the certificates (principals) attached to it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ThingRecord {
    pub name: String,
    pub type_name: Option<String>,
    pub attributes: Vec<(String, String)>,
    /// Certificate IDs attached with AttachThingPrincipal.
    pub principals: Vec<String>,
}

/// The account the endpoint serves.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    pub account_id: String,
    pub certificates: HashMap<String, DeviceCert>,
    pub ca_certificates: Vec<CaCert>,
    pub things: Vec<ThingRecord>,
    /// Policies by name; each name may hold several documents (versions are not modelled).
    pub policies: HashMap<String, Vec<Policy>>,
}

/// The account id of the AWS documentation's examples.
pub const EXAMPLE_ACCOUNT: &str = "123456789012";

impl Registry {
    pub fn new(account_id: impl Into<String>) -> Registry {
        Registry {
            account_id: account_id.into(),
            ..Registry::default()
        }
    }

    /// Registers a device certificate (replacing one with the same ID).
    pub fn add_certificate(&mut self, cert: DeviceCert) {
        self.certificates.insert(cert.id.to_ascii_lowercase(), cert);
    }

    /// Adds a policy from its JSON document (any form `parse_policies` takes).
    pub fn add_policy(&mut self, name: &str, document: &str) -> Result<(), Error> {
        let parsed = parse_policies(name, document)
            .map_err(|e| Error::BadFile(format!("policy {name}: {e}")))?;
        let parsed = parsed
            .into_iter()
            .map(|mut p| {
                p.name = name.to_string();
                p
            })
            .collect();
        self.policies.insert(name.to_string(), parsed);
        Ok(())
    }

    pub fn certificate(&self, id: &str) -> Option<&DeviceCert> {
        self.certificates.get(&id.to_ascii_lowercase())
    }

    /// The policies attached to a certificate (names without a document are skipped: the
    /// loader refuses them, a registry built in code may have them).
    pub fn policies_of(&self, cert_id: &str) -> Vec<Policy> {
        let Some(c) = self.certificate(cert_id) else {
            return Vec::new();
        };
        c.policies
            .iter()
            .filter_map(|n| self.policies.get(n))
            .flatten()
            .cloned()
            .collect()
    }

    /// The thing named `client_id`, as the policy variables `iot:Connection.Thing.*` see it:
    /// they are set only when the client id is a thing's name ([DOC-2021]
    /// thing-policy-variables.md), `IsAttached` when the certificate is attached to it.
    pub fn thing_for(&self, client_id: &str, cert_id: &str) -> Option<Thing> {
        let t = self.things.iter().find(|t| t.name == client_id)?;
        Some(Thing {
            name: t.name.clone(),
            type_name: t.type_name.clone(),
            attributes: t.attributes.clone(),
            attached: t.principals.iter().any(|p| p.eq_ignore_ascii_case(cert_id)),
        })
    }

    /// A CA certificate whose subject issued `der`, if one is registered.
    pub fn issuing_ca(&self, der: &[u8]) -> Option<&CaCert> {
        let issuer = iotscope_decoder::cert::summarize(der).issuer;
        self.ca_certificates.iter().find(|ca| {
            ca.der
                .as_deref()
                .is_some_and(|d| iotscope_decoder::cert::summarize(d).subject == issuer)
        })
    }

    /// Reads a `--registry` file (JSON, documented in docs/endpoint.md). Paths in it are
    /// relative to the file.
    pub fn load(path: &Path) -> Result<Registry, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("read the registry {}", path.display()), e))?;
        let file: File = serde_json::from_str(&text).map_err(|e| {
            Error::BadFile(format!(
                "{} is not a registry file: {e} (docs/endpoint.md shows the form)",
                path.display()
            ))
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Registry::from_file(file, base, &path.display().to_string())
    }

    fn from_file(file: File, base: &Path, source: &str) -> Result<Registry, Error> {
        let mut r = Registry::new(file.account_id.unwrap_or_else(|| EXAMPLE_ACCOUNT.into()));
        for p in file.policies {
            let doc = match (&p.policy_document, &p.file) {
                (Some(serde_json::Value::String(s)), _) => s.clone(),
                (Some(v), _) => v.to_string(),
                (None, Some(f)) => std::fs::read_to_string(base.join(f)).map_err(|e| {
                    Error::io(
                        format!("read the policy file {}", base.join(f).display()),
                        e,
                    )
                })?,
                (None, None) => {
                    return Err(Error::BadFile(format!(
                        "{source}: policy {} has neither policyDocument nor file",
                        p.policy_name
                    )))
                }
            };
            r.add_policy(&p.policy_name, &doc)
                .map_err(|e| Error::BadFile(format!("{source}: {e}")))?;
        }
        for c in file.certificates {
            let id = cert_id(&c.certificate_id, &c.certificate_pem, &c.file, base, source)?;
            for name in &c.policies {
                if !r.policies.contains_key(name) {
                    return Err(Error::BadFile(format!(
                        "{source}: certificate {id} names the policy {name:?}, which the file does not define"
                    )));
                }
            }
            r.add_certificate(DeviceCert {
                id,
                status: c.status,
                policies: c.policies,
            });
        }
        for c in file.ca_certificates {
            let der = pem_or_file(&c.certificate_pem, &c.file, base)?;
            let id = match (&c.certificate_id, &der) {
                (Some(id), _) => id.to_ascii_lowercase(),
                (None, Some(d)) => sha256_hex(d),
                (None, None) => {
                    return Err(Error::BadFile(format!(
                        "{source}: a CA certificate needs certificateId, certificatePem or file"
                    )))
                }
            };
            r.ca_certificates.push(CaCert {
                id,
                status: c.status,
                der,
            });
        }
        for t in file.things {
            let mut attributes: Vec<(String, String)> = t.attributes.into_iter().collect();
            attributes.sort();
            r.things.push(ThingRecord {
                name: t.thing_name,
                type_name: t.thing_type_name,
                attributes,
                principals: t
                    .principals
                    .iter()
                    .map(|p| p.to_ascii_lowercase())
                    .collect(),
            });
        }
        Ok(r)
    }
}

/// SHA-256 of `der`, lower-case hex: the AWS certificate ID.
pub fn sha256_hex(der: &[u8]) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn pem_or_file(
    pem: &Option<String>,
    file: &Option<String>,
    base: &Path,
) -> Result<Option<Vec<u8>>, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let text = match (pem, file) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => std::fs::read_to_string(base.join(f))
            .map_err(|e| Error::io(format!("read {}", base.join(f).display()), e))?,
        (None, None) => return Ok(None),
    };
    let der = CertificateDer::from_pem_slice(text.as_bytes())
        .map_err(|e| Error::BadFile(format!("a certificate in the registry is not PEM: {e}")))?;
    Ok(Some(der.to_vec()))
}

fn cert_id(
    id: &Option<String>,
    pem: &Option<String>,
    file: &Option<String>,
    base: &Path,
    source: &str,
) -> Result<String, Error> {
    if let Some(id) = id {
        let ok = id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(Error::BadFile(format!(
                "{source}: {id:?} is not a certificate ID (64 hex digits, the SHA-256 of the DER)"
            )));
        }
        return Ok(id.to_ascii_lowercase());
    }
    match pem_or_file(pem, file, base)? {
        Some(der) => Ok(sha256_hex(&der)),
        None => Err(Error::BadFile(format!(
            "{source}: a certificate needs certificateId, certificatePem or file"
        ))),
    }
}

/// The `--registry` file.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct File {
    account_id: Option<String>,
    #[serde(default)]
    certificates: Vec<CertEntry>,
    #[serde(default)]
    ca_certificates: Vec<CaEntry>,
    #[serde(default)]
    things: Vec<ThingEntry>,
    #[serde(default)]
    policies: Vec<PolicyEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CertEntry {
    certificate_id: Option<String>,
    certificate_pem: Option<String>,
    file: Option<String>,
    #[serde(deserialize_with = "aws_status")]
    status: CertStatus,
    #[serde(default)]
    policies: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CaEntry {
    certificate_id: Option<String>,
    certificate_pem: Option<String>,
    file: Option<String>,
    #[serde(deserialize_with = "aws_status")]
    status: CertStatus,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ThingEntry {
    thing_name: String,
    thing_type_name: Option<String>,
    #[serde(default)]
    attributes: HashMap<String, String>,
    #[serde(default)]
    principals: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyEntry {
    policy_name: String,
    policy_document: Option<serde_json::Value>,
    file: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_file_reads_with_the_cli_field_names() {
        let id = "a".repeat(64);
        let text = format!(
            r#"{{"accountId":"111122223333",
               "policies":[{{"policyName":"p","policyDocument":{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}}]}}}}],
               "certificates":[{{"certificateId":"{id}","status":"INACTIVE","policies":["p"]}}],
               "things":[{{"thingName":"t1","attributes":{{"site":"b"}},"principals":["{id}"]}}]}}"#
        );
        let file: File = serde_json::from_str(&text).unwrap();
        let r = Registry::from_file(file, Path::new("."), "test").unwrap();
        assert_eq!(r.account_id, "111122223333");
        assert_eq!(r.certificate(&id).unwrap().status, CertStatus::Inactive);
        assert_eq!(r.policies_of(&id).len(), 1);
        let t = r.thing_for("t1", &id).unwrap();
        assert!(t.attached);
        assert_eq!(t.attributes, vec![("site".into(), "b".into())]);
        assert!(r.thing_for("t2", &id).is_none());
    }

    #[test]
    fn bad_registry_entries_say_what_is_wrong() {
        let text = r#"{"certificates":[{"certificateId":"xyz","status":"ACTIVE"}]}"#;
        let file: File = serde_json::from_str(text).unwrap();
        let e = Registry::from_file(file, Path::new("."), "r.json").unwrap_err();
        assert!(e.to_string().contains("not a certificate ID"), "{e}");
        let text = format!(
            r#"{{"certificates":[{{"certificateId":"{}","status":"ACTIVE","policies":["nope"]}}]}}"#,
            "b".repeat(64)
        );
        let file: File = serde_json::from_str(&text).unwrap();
        let e = Registry::from_file(file, Path::new("."), "r.json").unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
