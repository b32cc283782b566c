//! `iotscope cert check`: the certificate files a device or a custom domain uses, read
//! offline. Each certificate is shown with the ID AWS IoT knows it by, and what would make a
//! connection fail (validity, key, chain order, private key, CA, custom-domain rules) comes
//! out as findings from the same catalogue the proxy uses.

// `iotscope probe` makes the same offline checks with these.
pub mod files;

use crate::error::Error;
use std::fmt::Write as _;
use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

use iotscope_decoder::account::{CertificateRecord, Lookup};
use iotscope_decoder::cert::{read_chain, summarize_pem_or_der, Certificate, ChainSummary};
use iotscope_decoder::diagnose::{account_rules, cert_files, Finding, Severity};

use files::{CaFile, KeyFile};
use iotscope_report::json::CertJson;
use iotscope_report::sorted_json::SortedJson;
use iotscope_report::text;
use iotscope_report::Format;

/// `iotscope cert check`'s settings.
#[derive(Debug, Clone, Default)]
pub struct CertCheckConfig {
    /// Certificate files: PEM (one or more certificates) or DER.
    pub files: Vec<std::path::PathBuf>,
    /// The private key that should belong to each file's first certificate.
    pub key: Option<std::path::PathBuf>,
    /// CA certificates that should have issued the checked certificates.
    pub ca: Option<std::path::PathBuf>,
    /// The files are server certificates for an AWS IoT custom domain.
    pub custom_domain: bool,
    pub format: Format,
    /// Where to ask for each certificate's status in the account (`--account`, `--aws`).
    pub account: Option<iotscope_account::SharedSource>,
}

/// One file, checked.
struct Checked {
    path: String,
    certs: Vec<Certificate>,
    issued_by_next: Vec<Option<bool>>,
    root: Option<String>,
    root_known: bool,
    valid_now: Vec<bool>,
    findings: Vec<Finding>,
    /// The first certificate's status in the account, when `--account` or `--aws` was given.
    account: Option<String>,
}

/// Runs the command. `Err` is an unreadable `--key` or `--ca`; otherwise the exit status:
/// 2 when a certificate file could not be read (said on stderr, the others still checked),
/// else 1 when any finding is an error, else 0.
pub fn run(args: CertCheckConfig) -> Result<u8, Error> {
    // The clock is read here, once: the decoder never looks at one.
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let key = args.key.as_deref().map(KeyFile::load).transpose()?;
    let ca = args.ca.as_deref().map(CaFile::load).transpose()?;
    let mut status = 0;
    let mut out = String::new();
    let mut source = args.account.clone();
    for path in &args.files {
        match check_file(path, now, args.custom_domain, key.as_ref(), ca.as_ref()) {
            Ok(mut checked) => {
                if let (Some(source), Some(first)) = (source.as_mut(), checked.certs.first()) {
                    let id = first.sha256.clone();
                    let lookup = iotscope_account::AccountSource::certificate(source, &id);
                    checked.account = Some(account_line(&lookup));
                    if let Some(f) = account_rules::certificate_finding(&id, &lookup) {
                        checked.findings.push(f);
                        checked
                            .findings
                            .sort_by_key(|f| std::cmp::Reverse(f.severity));
                    }
                }
                if checked
                    .findings
                    .iter()
                    .any(|f| f.severity == Severity::Error)
                {
                    status = status.max(1);
                }
                match args.format {
                    Format::Text => out.push_str(&text_report(&checked)),
                    Format::Json => {
                        out.push_str(&json_report(&checked));
                        out.push('\n');
                    }
                }
            }
            Err(e) => {
                eprintln!("iotscope: {e}");
                status = 2;
            }
        }
    }
    print!("{out}");
    Ok(status)
}

fn check_file(
    path: &Path,
    now: i64,
    custom_domain: bool,
    key: Option<&KeyFile>,
    ca: Option<&CaFile>,
) -> Result<Checked, Error> {
    let bytes =
        std::fs::read(path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    let read = summarize_pem_or_der(&bytes);
    if read.is_empty() {
        return Err(Error::BadFile(format!(
            "{} holds no certificate",
            path.display()
        )));
    }
    if let Some(bad) = read.iter().find_map(|(c, _)| c.parse_error.as_ref()) {
        return Err(Error::BadFile(format!("{}: {bad}", path.display())));
    }
    let ders: Vec<&[u8]> = read.iter().map(|(_, d)| d.as_slice()).collect();
    let ChainSummary {
        chain,
        issued_by_next,
        root,
        root_known,
    } = read_chain(&ders);
    let mut findings = cert_files::check(&cert_files::Chain {
        certs: &chain,
        issued_by_next: &issued_by_next,
        now,
        custom_domain,
    });
    if let (Some(key), Some(first), Some(der)) = (key, chain.first(), ders.first()) {
        findings.extend(key.check(first, der));
    }
    if let Some(ca) = ca {
        findings.extend(ca.check(&chain, &ders));
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let valid_now = chain.iter().map(|c| c.valid_at(now)).collect();
    Ok(Checked {
        path: path.display().to_string(),
        certs: chain.to_vec(),
        issued_by_next,
        root,
        root_known,
        valid_now,
        findings,
        account: None,
    })
}

/// The first certificate's status in the account, in a few words.
fn account_line(l: &Lookup<CertificateRecord>) -> String {
    match l {
        Lookup::Found(r) => format!(
            "{} in the account{}",
            r.status.as_str(),
            r.certificate_arn
                .as_deref()
                .map(|a| format!(" ({a})"))
                .unwrap_or_default()
        ),
        Lookup::NotFound => "not registered in the account".into(),
        Lookup::Unknown => "not in the --account files (no certificate file given)".into(),
        Lookup::Failed(c) => format!("{} failed: {}", c.call, c.error),
    }
}

fn describe_command(c: &Certificate) -> String {
    format!("aws iot describe-certificate --certificate-id {}", c.sha256)
}

fn text_report(r: &Checked) -> String {
    let mut s = String::new();
    let n = r.certs.len();
    let _ = writeln!(
        s,
        "{}: {n} certificate{}",
        r.path,
        if n == 1 { "" } else { "s" }
    );
    for (i, c) in r.certs.iter().enumerate() {
        let now = if r.valid_now.get(i).copied().unwrap_or(false) {
            "valid now"
        } else {
            "NOT valid now"
        };
        let _ = writeln!(s, "  [{}] subject  {}", i + 1, c.subject);
        let _ = writeln!(s, "      issuer   {}", c.issuer);
        let _ = writeln!(
            s,
            "      valid    {} to {} UTC ({now})",
            c.not_before, c.not_after
        );
        let mut sans: Vec<String> = c.san_dns.iter().map(|d| format!("DNS:{d}")).collect();
        sans.extend(c.san_ip.iter().map(|a| format!("IP:{a}")));
        sans.extend(c.san_uri.iter().map(|u| format!("URI:{u}")));
        if !sans.is_empty() {
            let _ = writeln!(s, "      SAN      {}", sans.join(", "));
        }
        let key = match (&c.curve, c.key_bits) {
            (Some(curve), _) => format!("{} {curve}", c.key_type),
            (None, Some(bits)) => format!("{} {bits} bits", c.key_type),
            (None, None) => c.key_type.clone(),
        };
        let _ = writeln!(s, "      key      {key}");
        let mut usage = vec![if c.is_ca { "CA" } else { "not a CA" }.to_string()];
        usage.extend(c.extended_key_usage.iter().cloned());
        let _ = writeln!(s, "      usage    {}", usage.join(", "));
        let _ = writeln!(s, "      id       {}", c.sha256);
        let _ = writeln!(s, "      {}", describe_command(c));
        if let (0, Some(a)) = (i, &r.account) {
            let _ = writeln!(s, "      account  {a}");
        }
        if i + 1 < n {
            let link = match r.issued_by_next.get(i).copied().flatten() {
                Some(true) => "issued by the next certificate",
                Some(false) => "NOT issued by the next certificate",
                None => "link to the next certificate not checked",
            };
            let _ = writeln!(s, "      chain    {link}");
        }
    }
    if let Some(root) = &r.root {
        let known = if r.root_known { " (a known root)" } else { "" };
        let _ = writeln!(s, "  chain leads to {root}{known}");
    }
    let _ = writeln!(
        s,
        "{}\n",
        text::findings(&r.findings, text::Style::default())
    );
    s
}

/// One checked file as JSON: its certificates (each in the one certificate form, with what
/// the check found about it), the chain's root and the findings.
#[derive(Serialize)]
struct CheckedJson<'a> {
    /// The first certificate's status in the account (`--account`, `--aws`).
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    certificates: Vec<CheckedCertJson<'a>>,
    file: &'a str,
    findings: &'a [Finding],
    root: &'a Option<String>,
    root_known: bool,
}

#[derive(Serialize)]
struct CheckedCertJson<'a> {
    #[serde(flatten)]
    certificate: CertJson<'a>,
    describe_certificate: String,
    issued_by_next: Option<bool>,
    valid_now: bool,
}

fn json_report(r: &Checked) -> String {
    let view = CheckedJson {
        account: r.account.as_deref(),
        certificates: r
            .certs
            .iter()
            .enumerate()
            .map(|(i, c)| CheckedCertJson {
                certificate: CertJson(c),
                describe_certificate: describe_command(c),
                issued_by_next: r.issued_by_next.get(i).copied().flatten(),
                valid_now: r.valid_now.get(i).copied().unwrap_or(false),
            })
            .collect(),
        file: &r.path,
        findings: &r.findings,
        root: &r.root,
        root_known: r.root_known,
    };
    let mut out = Vec::new();
    // Serialising views of parsed certificates cannot fail; an empty line would say so.
    let _ = SortedJson::new().write(&mut out, &view);
    String::from_utf8_lossy(&out).into_owned()
}
