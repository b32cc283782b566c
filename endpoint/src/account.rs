//! The registry from `--account` files: the JSON the AWS CLI prints for an account, read by
//! `iotscope-account`'s [`Files`], served as the endpoint's [`Registry`].
//!
//! Why here and not a second reader: the same files already explain a capture (`replay
//! --account`); an endpoint started from them refuses the same certificates AWS refused, with
//! the policies AWS would apply, without writing a `--registry` file by hand. What the files
//! leave out, the endpoint does not invent: a certificate with no list-attached-policies file
//! gets the get-policy files' policies only when no such list is given at all (as `--account`
//! reads them for a diagnosis), and a thing no list-principal-things names has no principals.

use iotscope_account::{AccountSource, Files, Lookup};
use iotscope_decoder::account::CertStatus as AwsStatus;
use iotscope_proxy::error::Error;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::registry::{CaCert, CertStatus, DeviceCert, Registry, ThingRecord, EXAMPLE_ACCOUNT};

/// The registry the files describe: every certificate with its status and attached policies,
/// every CA certificate (with its DER when describe-ca-certificate printed it), every thing
/// with its attributes and the certificates attached to it.
pub fn registry_from(files: &Files) -> Result<Registry, Error> {
    let mut files = files.clone();
    let account = files
        .certificates()
        .filter_map(|c| c.certificate_arn.as_deref())
        .chain(files.policies().filter_map(|p| p.arn.as_deref()))
        .find_map(account_of_arn)
        .unwrap_or_else(|| EXAMPLE_ACCOUNT.into());
    let mut r = Registry::new(account);
    let policies: Vec<_> = files.policies().cloned().collect();
    for p in &policies {
        r.add_policy(&p.name, &p.document)?;
    }
    let certs: Vec<_> = files.certificates().cloned().collect();
    let mut principals: Vec<(String, String)> = Vec::new();
    for c in &certs {
        let id = &c.certificate_id;
        let status = status(&c.status, &format!("certificate {id}"))?;
        let arn = c.certificate_arn.clone().unwrap_or_else(|| id.clone());
        let policies = match files.attached_policies(&arn) {
            Lookup::Found(list) => list.into_iter().map(|p| p.name).collect(),
            Lookup::Failed(f) => {
                return Err(Error::BadFile(format!(
                    "--account: certificate {id}: {}",
                    f.error
                )))
            }
            _ => Vec::new(),
        };
        if let Lookup::Found(things) = files.things_of(&arn) {
            principals.extend(things.into_iter().map(|t| (t.name, id.clone())));
        }
        r.add_certificate(DeviceCert {
            id: id.clone(),
            status,
            policies,
        });
    }
    let cas: Vec<_> = files.ca_certificates().cloned().collect();
    for ca in cas {
        let der = match files.ca_certificate_pem(&ca.certificate_id) {
            Some(pem) => Some(
                CertificateDer::from_pem_slice(pem.as_bytes())
                    .map_err(|e| {
                        Error::BadFile(format!(
                            "--account: CA certificate {}: its certificatePem: {e}",
                            ca.certificate_id
                        ))
                    })?
                    .to_vec(),
            ),
            None => None,
        };
        r.ca_certificates.push(CaCert {
            status: status(&ca.status, &format!("CA certificate {}", ca.certificate_id))?,
            id: ca.certificate_id,
            der,
        });
    }
    let mut things: Vec<ThingRecord> = files
        .things()
        .map(|t| ThingRecord {
            name: t.name.clone(),
            type_name: t.type_name.clone(),
            attributes: t
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            principals: Vec::new(),
        })
        .collect();
    for (thing, cert) in principals {
        let i = match things.iter().position(|t| t.name == thing) {
            Some(i) => i,
            None => {
                // Named by list-principal-things but not described: no attributes known.
                things.push(ThingRecord {
                    name: thing,
                    ..ThingRecord::default()
                });
                things.len() - 1
            }
        };
        if !things[i].principals.contains(&cert) {
            things[i].principals.push(cert);
        }
    }
    r.things = things;
    Ok(r)
}

/// The account of an ARN (`arn:aws:iot:REGION:ACCOUNT:...`).
fn account_of_arn(arn: &str) -> Option<String> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.into())
}

fn status(s: &AwsStatus, what: &str) -> Result<CertStatus, Error> {
    match s {
        AwsStatus::Other(other) => Err(Error::BadFile(format!(
            "--account: {what} has the status {other:?}, which AWS IoT does not use (ACTIVE, INACTIVE, REVOKED, PENDING_TRANSFER, REGISTER_INACTIVE, PENDING_ACTIVATION)"
        ))),
        known => Ok(known.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captures(dir: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../captures/account")
            .join(dir)
    }

    #[test]
    fn the_inactive_capture_registers_its_certificate_inactive() {
        let files = Files::open(&[captures("inactive")]).unwrap();
        let r = registry_from(&files).unwrap();
        let id = "1937917f5e53925c2c003a36ab2ab5e79e2b49f67891c70b490a0042f460f4c3";
        assert_eq!(r.certificate(id).unwrap().status, CertStatus::Inactive);
        assert_eq!(r.account_id, "123456789012");
    }

    #[test]
    fn the_good_capture_attaches_its_policy_and_thing() {
        let files = Files::open(&[captures("good")]).unwrap();
        let r = registry_from(&files).unwrap();
        assert_eq!(r.certificates.len(), 1);
        let cert = r.certificates.values().next().unwrap();
        assert_eq!(cert.status, CertStatus::Active);
        assert!(!cert.policies.is_empty());
        assert!(!r.policies_of(&cert.id).is_empty());
        let thing = &r.things[0];
        assert_eq!(thing.principals, vec![cert.id.clone()]);
        assert!(r.thing_for(&thing.name, &cert.id).unwrap().attached);
    }
}
