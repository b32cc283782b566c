//! The demo's AWS account, written as the files `aws iot describe-certificate` and `aws iot
//! get-policy` print: the same files a user gives `--account`, so the demo takes the path a
//! real diagnosis takes rather than a side door into the registry.

use std::path::{Path, PathBuf};

use iotscope_proxy::error::Error;
use serde_json::json;

use super::pki::DeviceId;
use super::EXAMPLE_ACCOUNT;

/// The region of the demo's ARNs (the endpoint's name says us-east-1 too).
const REGION: &str = "us-east-1";

/// Writes one describe-certificate file per certificate (with its status) and one get-policy
/// file; the policy is attached to every certificate (no list-attached-policies file: then
/// every certificate has the policies given). Returns the files' paths.
pub fn write(
    dir: &Path,
    certificates: &[(&DeviceId, &str)],
    (policy_name, policy): (&str, &str),
) -> Result<Vec<PathBuf>, Error> {
    let mut paths = Vec::new();
    let mut put = |name: String, value: serde_json::Value| -> Result<(), Error> {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        std::fs::write(&path, text)
            .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
        paths.push(path);
        Ok(())
    };
    for (cert, status) in certificates {
        put(
            format!("describe-certificate-{}.json", &cert.id[..12]),
            json!({"certificateDescription": {
                "certificateArn": format!("arn:aws:iot:{REGION}:{EXAMPLE_ACCOUNT}:cert/{}", cert.id),
                "certificateId": cert.id,
                "status": status,
                "certificatePem": cert.cert_pem,
                "ownedBy": EXAMPLE_ACCOUNT,
                "certificateMode": "DEFAULT",
            }}),
        )?;
    }
    put(
        format!("get-policy-{policy_name}.json"),
        json!({
            "policyName": policy_name,
            "policyArn": format!("arn:aws:iot:{REGION}:{EXAMPLE_ACCOUNT}:policy/{policy_name}"),
            "policyDocument": policy,
            "defaultVersionId": "1",
        }),
    )?;
    Ok(paths)
}
