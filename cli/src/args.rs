//! The command line: clap's definitions, and their conversion into the libraries' plain
//! configurations. Nothing here does any work.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

use iotscope_proxy::transparent::AllowRule;
use iotscope_proxy::upstream::Upstream;

#[derive(Parser, Debug)]
#[command(
    name = "iotscope",
    version,
    about = "Shows why an IoT device cannot connect to AWS IoT Core or any MQTT-over-TLS endpoint",
    long_about = "iotscope decodes the TLS handshake and the MQTT control packets between a device and its \
endpoint, from a capture or live, and explains each failure as a finding tied to a section of the \
AWS IoT troubleshooting guide.\n\nExit status: 0 no finding of severity error, 1 a finding of severity \
error, 2 the input or the invocation was bad."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Decode and diagnose every MQTT/TLS connection in pcap or pcapng captures.
    Replay(ReplayArgs),
    /// Relay devices to their endpoint and diagnose every connection as it happens.
    Proxy(Box<ProxyArgs>),
    /// Print what a finding code means and what to do about it.
    Explain(ExplainArgs),
    /// Check certificate files offline.
    Cert(CertArgs),
    /// Manage iotscope's local CA, which issues the certificates `proxy --mitm` shows devices.
    Ca(CaArgs),
    /// Connect to an endpoint as the device would, with its files, and report every step.
    Probe(ProbeArgs),
    /// Evaluate AWS IoT Core policies offline: what a device may do, and what is wrong in them.
    Policy(PolicyArgs),
    /// Run a local endpoint that answers devices the way AWS IoT Core does (docs/endpoint.md).
    Endpoint(EndpointArgs),
    /// Start the endpoint and the proxy in this process and run built-in devices through them,
    /// each showing a failure from the troubleshooting guide. Exit 0 when every device got the
    /// diagnosis it was built to get.
    Demo(DemoArgs),
    /// Explain what AWS IoT logged (AWSIotLogsV2 entries): each failure with its finding code
    /// and the guide's section. Exit 0 no error, 1 an error entry, 2 bad input.
    Logs(LogsArgs),
    /// Play AWS IoT Core for a device and check it follows AWS Device Advisor's TLS and MQTT
    /// best practices: PASS / FAIL / NOT RUN per case with the evidence (docs/qualify.md).
    /// Exit 0 when no case failed, 1 when one did, 2 on bad input.
    Qualify(QualifyArgs),
}

#[derive(Args, Debug)]
pub struct QualifyArgs {
    /// Where the device connects (MQTT over TLS). Port 0 picks a free port, printed at start.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// Suites to run, comma-separated: tls, mqtt [default: all].
    #[arg(long, value_name = "SUITE", value_delimiter = ',')]
    pub suite: Vec<String>,
    /// Cases to run, by id (repeatable) [default: every case of the suites].
    #[arg(long = "case", value_name = "NAME")]
    pub cases: Vec<String>,
    /// The endpoint name the device connects to: the certificate's name when the device
    /// sends no SNI.
    #[arg(long, value_name = "HOST", default_value = iotscope_endpoint::DEFAULT_ENDPOINT)]
    pub endpoint: String,
    /// Where iotscope's CA lives (made at first use); the device must trust its
    /// iotscope-ca.pem [default: the `iotscope ca` directory].
    #[arg(long, value_name = "DIR")]
    pub ca_dir: Option<PathBuf>,
    /// Also write the results as JUnit XML (one testcase per case).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Output form: a table, or JSON Lines (one object per case, as each ends).
    #[arg(long, value_enum, default_value_t = QualifyFormatArg::Table)]
    pub format: QualifyFormatArg,
    /// Give every case this time limit, in seconds, instead of its own.
    #[arg(long, value_name = "S", value_parser = parse_seconds)]
    pub time_limit: Option<Duration>,
    /// Relay the MQTT cases to this MQTT-over-TLS endpoint (AWS IoT Core, a test broker,
    /// `iotscope endpoint`) instead of answering as a minimal broker: the device's packets go
    /// there and its answers come back, save what the case withholds or does itself. The TLS
    /// cases use none.
    #[arg(long, value_name = "HOST[:PORT]", value_parser = parse_upstream)]
    pub upstream: Option<Upstream>,
    /// The certificate (PEM or DER) presented to the upstream for the device, as with
    /// `proxy --mitm --device-cert`.
    #[arg(long, value_name = "FILE", requires_all = ["upstream", "device_key"])]
    pub device_cert: Option<PathBuf>,
    /// Its private key (PEM or DER PKCS#8).
    #[arg(long, value_name = "FILE", requires_all = ["upstream", "device_cert"])]
    pub device_key: Option<PathBuf>,
    /// A directory of device certificates and keys, chosen by the certificate the device
    /// presents, as with `proxy --mitm --device-certs`.
    #[arg(
        long,
        value_name = "DIR",
        requires = "upstream",
        conflicts_with = "device_cert"
    )]
    pub device_certs: Option<PathBuf>,
    /// CA certificates to trust for the upstream besides webpki-roots (for a test broker).
    #[arg(long, value_name = "FILE", requires = "upstream")]
    pub upstream_ca: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum QualifyFormatArg {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct EndpointArgs {
    /// The endpoint's name: devices must send it as SNI; its certificate is issued for it.
    #[arg(long, value_name = "HOST", default_value = iotscope_endpoint::DEFAULT_ENDPOINT)]
    pub name: String,
    /// MQTT over TLS (AWS IoT Core: port 8883). Port 0 picks a free port, printed at start.
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:8883")]
    pub listen: std::net::SocketAddr,
    /// TLS with ALPN x-amzn-mqtt-ca (MQTT) or x-amzn-http-ca (HTTPS publish), as AWS IoT
    /// Core serves it on port 443.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen_alpn: Option<std::net::SocketAddr>,
    /// HTTPS publish (POST /topics/TOPIC?qos=1), as AWS IoT Core serves it on port 8443.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen_https: Option<std::net::SocketAddr>,
    /// The registry: certificates with their status, CA certificates, things, policies (JSON,
    /// docs/endpoint.md). Without it every certificate is unregistered and refused.
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// The registry from what the AWS CLI printed for the account (the files, or folders of
    /// them, that `--account` reads elsewhere): describe-certificate / list-certificates give
    /// the certificates and their status, list-attached-policies and get-policy their
    /// policies, describe-ca-certificate the CA certificates, list-principal-things and
    /// describe-thing the things. Instead of --registry.
    #[arg(long = "account", value_name = "FILE", num_args = 1.., conflicts_with = "registry")]
    pub account_files: Vec<PathBuf>,
    /// Where the endpoint keeps its CA [default: $XDG_CONFIG_HOME/iotscope/endpoint or
    /// ~/.config/iotscope/endpoint]. Devices trust its iotscope-ca.pem.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Append an AWSIotLogsV2-shaped log here (one JSON object per line).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Connections at once; more are closed at accept [default: what the descriptor limit
    /// allows, one per connection, said at start].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub max_connections: Option<u32>,
    /// How long a persistent session outlives its connection, in seconds (AWS: 3600 by
    /// default, at most 604800).
    #[arg(long, value_name = "S", default_value = "3600", value_parser = parse_seconds)]
    pub session_expiry: Duration,
    /// The region in the ARNs policies are checked on [default: the one in --name, else
    /// us-east-1].
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Refuse devices that send no SNI, as the older AWS documentation says AWS does.
    #[arg(long)]
    pub require_sni: bool,
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Output form: the proxy's live text and a summary table, or JSON Lines (one object per
    /// connection, then one summary object).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Colour in text output.
    #[arg(long, value_enum, default_value_t = Colour::Auto)]
    pub colour: Colour,
    /// Serve the live web view of the devices' connections on this address (e.g.
    /// 127.0.0.1:8080; port 0 picks one, printed at start). The page stays up after the
    /// demo, until Ctrl-C. Loopback addresses only, unless --web-allow-remote.
    #[arg(long, value_name = "ADDR:PORT")]
    pub web: Option<std::net::SocketAddr>,
    /// Let --web listen on an address other machines can reach (a token is then required).
    #[arg(long, requires = "web")]
    pub web_allow_remote: bool,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// AWSIotLogsV2 entries: the output of `aws logs filter-log-events --log-group-name
    /// AWSIotLogsV2`, or one JSON entry per line (a folder stands for its files).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Only entries of this client ID.
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Only entries at or after this instant (UTC: 2026-11-26T09:06:00Z, "2026-11-26 09:06",
    /// or milliseconds since 1970).
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub since: Option<i64>,
    /// Only entries at or before this instant.
    #[arg(long, value_name = "TIME", value_parser = parse_instant)]
    pub until: Option<i64>,
    /// Output form: text, or one JSON object per entry.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Colour in text output.
    #[arg(long, value_enum, default_value_t = Colour::Auto)]
    pub colour: Colour,
    /// With --aws: read the entries from the account's AWSIotLogsV2 log group
    /// (logs:FilterLogEvents) instead of files; without --since, the last hour.
    #[command(flatten)]
    pub aws: AwsFlags,
}

fn parse_instant(s: &str) -> Result<i64, String> {
    iotscope_account::logs::instant_ms(s).ok_or_else(|| {
        format!("{s:?} is not a time (2026-11-26T09:06:00Z, \"2026-11-26 09:06\", or milliseconds)")
    })
}

#[derive(Args, Debug)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Say whether the policies allow a device's MQTT requests, which statement decided, and
    /// what to add when one is denied. Exit 0 all allowed, 1 one denied, 2 bad input.
    Check(Box<PolicyCheckArgs>),
    /// Find statements that never match or match far more than they seem, unknown actions,
    /// JSON errors and oversized documents. Exit 0 clean, 1 problems, 2 unreadable input.
    Lint(PolicyLintArgs),
}

#[derive(Args, Debug)]
pub struct PolicyCheckArgs {
    /// Policy files: a policy document, or the JSON of `aws iot get-policy` or
    /// `aws iot get-effective-policies`. Repeat for each policy attached to the certificate.
    #[arg(long = "policy", value_name = "FILE", required = true, num_args = 1..)]
    pub policies: Vec<PathBuf>,
    /// The MQTT client id the device connects with.
    #[arg(long, value_name = "ID")]
    pub client_id: String,
    /// The registry thing the certificate is attached to (fills iot:Connection.Thing.*).
    #[arg(long, value_name = "NAME")]
    pub thing: Option<String>,
    /// The thing's type (iot:Connection.Thing.ThingTypeName).
    #[arg(long, value_name = "TYPE", requires = "thing")]
    pub thing_type: Option<String>,
    /// A thing attribute (iot:Connection.Thing.Attributes[NAME]); repeatable.
    #[arg(long = "thing-attr", value_name = "NAME=VALUE", requires = "thing", value_parser = parse_attr)]
    pub thing_attrs: Vec<(String, String)>,
    /// The device's certificate (PEM or DER), for the iot:Certificate.* variables.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The device's public address (aws:SourceIp).
    #[arg(long, value_name = "IP")]
    pub source_ip: Option<std::net::IpAddr>,
    /// The AWS region of the resources (else taken from --endpoint; unknown matches only *).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// The AWS account id of the resources (unknown matches only *).
    #[arg(long = "account-id", value_name = "ACCOUNT")]
    pub account_id: Option<String>,
    /// The endpoint the device connects to (iot:Domain, and the region).
    #[arg(long, value_name = "HOST")]
    pub endpoint: Option<String>,
    /// Check iot:Connect with the client id.
    #[arg(long)]
    pub connect: bool,
    /// Check iot:Publish on a topic; repeatable.
    #[arg(long, value_name = "TOPIC")]
    pub publish: Vec<String>,
    /// Check iot:Subscribe on a topic filter; repeatable.
    #[arg(long, value_name = "FILTER")]
    pub subscribe: Vec<String>,
    /// Check iot:Receive on a topic; repeatable.
    #[arg(long, value_name = "TOPIC")]
    pub receive: Vec<String>,
    /// Check iot:RetainPublish on a topic; repeatable.
    #[arg(long, value_name = "TOPIC")]
    pub retain: Vec<String>,
    /// Output form: text, or one JSON object per request.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct PolicyLintArgs {
    /// Policy files (documents, or `aws iot get-policy` / `get-effective-policies` output).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output form: text, or one JSON object per problem.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn parse_attr(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not NAME=VALUE")),
    }
}

#[derive(Args, Debug)]
pub struct CaArgs {
    #[command(subcommand)]
    pub command: CaCommand,
}

#[derive(Subcommand, Debug)]
pub enum CaCommand {
    /// Make the CA (once; an existing one is kept) and show it.
    Init {
        /// Where the CA lives [default: $XDG_CONFIG_HOME/iotscope/ca or ~/.config/iotscope/ca].
        #[arg(long, value_name = "DIR")]
        ca_dir: Option<PathBuf>,
        /// Key type of the CA and of the certificates it issues.
        #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
        key_type: KeyType,
        /// Days the CA certificate is valid, from yesterday.
        #[arg(long, value_name = "DAYS", default_value_t = 825, value_parser = clap::value_parser!(u32).range(1..=36_500))]
        days: u32,
    },
    /// Show the CA's subject, key, validity and fingerprint.
    Show {
        #[arg(long, value_name = "DIR")]
        ca_dir: Option<PathBuf>,
    },
    /// Print the CA certificate (PEM) to install in a device's trust store.
    Export {
        #[arg(long, value_name = "DIR")]
        ca_dir: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct CertArgs {
    #[command(subcommand)]
    pub command: CertCommand,
}

#[derive(Subcommand, Debug)]
pub enum CertCommand {
    /// Show each certificate (PEM or DER, chains too) with its AWS certificate ID, and check
    /// its validity, key, chain order and, when given, private key and CA.
    Check(CertCheckArgs),
}

#[derive(Args, Debug)]
pub struct CertCheckArgs {
    /// Certificate files: PEM (one or more certificates) or DER.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The private key (PEM) that should belong to each file's first certificate.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// CA certificates (PEM or DER) that should have issued the checked certificates.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The files are server certificates for an AWS IoT custom domain configuration.
    #[arg(long)]
    pub custom_domain: bool,
    /// Output form: text, or one JSON object per file.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub account: AccountFlags,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A header, a ladder of events and the findings per connection.
    Text,
    /// JSON Lines: one object per connection.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Colour {
    Auto,
    Always,
    Never,
}

/// Options every command that reports connections shares.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// The endpoint the device should reach (its SNI is checked against it), e.g.
    /// abc123example-ats.iot.us-east-1.amazonaws.com.
    #[arg(long, value_name = "HOST")]
    pub endpoint: Option<String>,
    /// The endpoint is an AWS IoT custom domain (SNI required, at most four names in its
    /// certificate).
    #[arg(long)]
    pub custom_domain: bool,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// With --format json, add every event to each connection's object.
    #[arg(long)]
    pub events: bool,
    /// Show MQTT passwords and HTTP proxy credentials (Proxy-Authorization) instead of <redacted>.
    #[arg(long)]
    pub reveal_passwords: bool,
    /// Colour in text output.
    #[arg(long, value_enum, default_value_t = Colour::Auto)]
    pub colour: Colour,
    #[command(flatten)]
    pub policy: PolicyFlags,
    #[command(flatten)]
    pub account: AccountFlags,
}

/// `--policy` and what it needs, on the commands that report connections.
#[derive(Args, Debug, Clone, Default)]
pub struct PolicyFlags {
    /// Check every MQTT request a connection shows (CONNECT, PUBLISH, each SUBSCRIBE filter,
    /// each message received) against an AWS IoT policy file: a document, or the JSON of
    /// `aws iot get-policy` or `aws iot get-effective-policies`. Repeat the flag for each
    /// policy attached to the certificate.
    #[arg(long = "policy", value_name = "FILE")]
    pub policies: Vec<PathBuf>,
    /// With --policy, the thing the certificate is attached to (iot:Connection.Thing.*).
    #[arg(long, value_name = "NAME", requires = "policies")]
    pub thing: Option<String>,
    /// With --policy, the AWS region of the resources (else the region in the endpoint's
    /// name or the SNI; unknown matches only *).
    #[arg(long, value_name = "REGION", requires = "policies")]
    pub region: Option<String>,
    /// With --policy, the AWS account id of the resources (unknown matches only *).
    #[arg(long = "account-id", value_name = "ACCOUNT", requires = "policies")]
    pub account_id: Option<String>,
}

/// `--account`: what the AWS account says, from the AWS CLI's JSON output.
#[derive(Args, Debug, Clone, Default)]
pub struct AccountFlags {
    /// Files (or folders of files) holding what the AWS CLI printed for describe-certificate,
    /// list-certificates, describe-ca-certificate, list-ca-certificates,
    /// list-attached-policies, get-policy, list-principal-things (or -v2), describe-thing,
    /// describe-endpoint, describe-domain-configuration, list-domain-configurations, and
    /// AWSIotLogsV2 entries (aws logs filter-log-events, or one JSON entry per line). Each file
    /// is recognised by its shape.
    #[arg(long = "account", value_name = "FILE", num_args = 1..)]
    pub account_files: Vec<PathBuf>,
    #[command(flatten)]
    pub aws: AwsFlags,
}

/// `--aws`: ask the AWS account itself, with read-only AWS IoT and CloudWatch Logs calls.
#[derive(Args, Debug, Clone, Default)]
pub struct AwsFlags {
    /// Ask the AWS account (read-only calls: iot:DescribeCertificate, iot:DescribeCACertificate,
    /// iot:ListAttachedPolicies, iot:GetPolicy, iot:ListPrincipalThings, iot:DescribeThing,
    /// iot:DescribeEndpoint, iot:ListDomainConfigurations, iot:DescribeDomainConfiguration,
    /// logs:FilterLogEvents) with the default credential chain (environment, profile, SSO,
    /// instance role). AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_IOT and
    /// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS point it elsewhere. Without --aws no call is made.
    #[arg(long)]
    pub aws: bool,
    /// With --aws, the profile of ~/.aws/config to use (else AWS_PROFILE, else default).
    #[arg(long, value_name = "NAME", requires = "aws")]
    pub aws_profile: Option<String>,
    /// With --aws, the region to ask (else AWS_REGION or the profile's).
    #[arg(long, value_name = "REGION", requires = "aws")]
    pub aws_region: Option<String>,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Capture files (pcap or pcapng).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// TLS key log (SSLKEYLOGFILE format) to decrypt the connections with.
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
    /// Only connections whose endpoint uses this TCP port.
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// No progress bar, even on a terminal.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write one self-contained HTML report to FILE: the table of connections, each
    /// one's ladder diagram and findings, and counts of findings over time. It fetches
    /// nothing from the network; send it to a colleague as it is.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// A finding code such as AUTH.CLIENT_CERT_REJECTED (any case).
    pub code: Option<String>,
    /// List every code.
    #[arg(long)]
    pub list: bool,
    /// Print the whole catalogue as Markdown (docs/diagnoses.md is made with this).
    #[arg(long)]
    pub markdown: bool,
}

/// The flags of transparent mode (flattened into `iotscope proxy`).
#[derive(Args, Debug, Clone, Default)]
pub struct TransparentArgs {
    /// Relay each connection to the address the device was really dialling, as a REDIRECT or
    /// TPROXY firewall rule on this gateway left it (see docs/gateway.md). Needs --allow or
    /// --allow-any; --upstream is not used.
    #[arg(long, conflicts_with = "upstream")]
    pub transparent: bool,
    /// With --transparent, a destination devices may reach: HOST[:PORT], ADDR[:PORT]
    /// ([V6]:PORT), or a network ADDR/PREFIX[:PORT]. Without a port, any port. Host names are
    /// resolved at start and again when a destination matches nothing. Repeat for more; any
    /// other destination is refused and reported.
    #[arg(
        long = "allow",
        value_name = "HOST[:PORT]|CIDR",
        requires = "transparent",
        value_parser = AllowRule::parse
    )]
    pub allow: Vec<AllowRule>,
    /// With --transparent, relay to any destination. Only on a gateway whose REDIRECT rules
    /// already pick the traffic: the proxy then relays wherever redirected devices dial.
    #[arg(long, requires = "transparent", conflicts_with = "allow")]
    pub allow_any: bool,
}

/// The key type of iotscope's CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KeyType {
    /// ECDSA on P-256: small and fast; what nearly every TLS stack takes.
    EcdsaP256,
    /// RSA 2048, for devices whose TLS stack verifies RSA signatures only.
    Rsa2048,
}

/// Which deliberately bad certificate `--present` shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Present {
    /// Issued by a CA made for this run only, which no device can trust.
    Untrusted,
    /// Issued by iotscope's CA for a name other than the one the device asked for.
    WrongName,
    /// Issued by iotscope's CA, for the right name, but expired a month ago.
    Expired,
}

#[derive(Args, Debug)]
pub struct ProxyArgs {
    /// The endpoint to relay to, HOST[:PORT] (port 8883 when left out). The name is resolved
    /// again for every connection; the proxy never connects anywhere else.
    #[arg(long, value_name = "HOST[:PORT]", value_parser = parse_upstream, required_unless_present = "transparent")]
    pub upstream: Option<Upstream>,
    #[command(flatten)]
    pub transparent: TransparentArgs,
    /// Where to listen. The default takes IPv6 and IPv4 on port 8443 (IPv4 alone where the
    /// machine has no IPv6). Port 0 picks a free port, printed at start.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<std::net::SocketAddr>,
    /// Record both directions of every connection as TCP/IP packets into this pcapng file.
    #[arg(long, value_name = "FILE.pcapng")]
    pub record: Option<PathBuf>,
    /// Serve a live web view of the connections on this address (e.g. 127.0.0.1:8080; port
    /// 0 picks a free one): a table, each connection's ladder diagram and findings, counts
    /// over time. Loopback addresses only, unless --web-allow-remote.
    #[arg(long, value_name = "ADDR:PORT")]
    pub web: Option<std::net::SocketAddr>,
    /// Let --web listen on an address other machines can reach. Every request must then
    /// carry the token printed at start (anyone with it sees every connection).
    #[arg(long, requires = "web")]
    pub web_allow_remote: bool,
    /// Connections relayed at once; more are refused (closed at once, with a log line)
    /// [default: what the descriptor limit allows, two per connection, said at start].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub max_connections: Option<u32>,
    /// Close a connection whose TLS handshake has not completed after this many seconds
    /// (0: never).
    #[arg(long, value_name = "S", default_value = "30", value_parser = parse_seconds)]
    pub handshake_timeout: Duration,
    /// Close a connection after this many seconds without a byte either way (0: never). The
    /// default is above AWS IoT Core's longest keep-alive (1200 s).
    #[arg(long, value_name = "S", default_value = "1800", value_parser = parse_seconds)]
    pub idle_timeout: Duration,
    /// Give up reaching the upstream after this many seconds.
    #[arg(long, value_name = "S", default_value = "10", value_parser = parse_seconds)]
    pub connect_timeout: Duration,
    /// On SIGINT/SIGTERM, exit within this many seconds: open connections run for the first
    /// three quarters of it (the last quarter, at most 5 s, is for closing and reporting them).
    #[arg(long, value_name = "S", default_value = "5", value_parser = parse_seconds)]
    pub grace: Duration,
    #[command(flatten)]
    pub mitm: MitmArgs,
    #[command(flatten)]
    pub report: ReportArgs,
}

/// MITM mode: iotscope ends the device's TLS and makes its own to the endpoint.
#[derive(Args, Debug, Clone)]
pub struct MitmArgs {
    /// Terminate the device's TLS with a certificate from iotscope's CA and connect to the
    /// endpoint with the device's certificate, so the MQTT inside can be read.
    #[arg(long)]
    pub mitm: bool,
    /// The device's certificate (PEM or DER), presented to the endpoint.
    #[arg(long, value_name = "FILE", requires_all = ["mitm", "device_key"])]
    pub device_cert: Option<PathBuf>,
    /// The device's private key (PEM or DER PKCS#8).
    #[arg(long, value_name = "FILE", requires_all = ["mitm", "device_cert"])]
    pub device_key: Option<PathBuf>,
    /// A directory of device certificates and keys, chosen by the certificate each device
    /// presents: ID.pem (or ID.crt / ID.pem.crt) and ID.key (or ID.pem.key / ID.private.key),
    /// where ID is the AWS certificate ID (SHA-256 of the DER).
    #[arg(
        long,
        value_name = "DIR",
        requires = "mitm",
        conflicts_with = "device_cert"
    )]
    pub device_certs: Option<PathBuf>,
    /// Refuse devices that present no certificate, as AWS IoT Core would.
    #[arg(long, requires = "mitm")]
    pub require_device_cert: bool,
    /// CA certificates to trust for the endpoint besides webpki-roots (for a test broker).
    #[arg(long, value_name = "FILE", requires = "mitm")]
    pub upstream_ca: Option<PathBuf>,
    /// iotscope's CA directory [default: $XDG_CONFIG_HOME/iotscope/ca or ~/.config/iotscope/ca].
    #[arg(long, value_name = "DIR", requires = "mitm")]
    pub ca_dir: Option<PathBuf>,
    /// Append both legs' TLS secrets to this file (SSLKEYLOGFILE format, mode 0600).
    #[arg(long, value_name = "FILE", requires = "mitm")]
    pub keylog: Option<PathBuf>,
    /// Test the device's validation: present a bad certificate and do not go upstream. The
    /// device passes when it refuses.
    #[arg(long, value_enum, value_name = "MODE", requires = "mitm")]
    pub present: Option<Present>,
}

/// MQTT protocol versions `iotscope probe` speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MqttVersion {
    #[value(name = "3.1.1")]
    V311,
    #[value(name = "5")]
    V5,
}

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// The endpoint's host name, e.g. abc123example-ats.iot.us-east-1.amazonaws.com.
    #[arg(long, value_name = "HOST")]
    pub endpoint: String,
    /// The endpoint's TCP port: 8883 for MQTT, or 443 with --alpn x-amzn-mqtt-ca.
    #[arg(long, value_name = "PORT", default_value_t = 8883, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// The device's certificate (PEM, chain allowed, or DER). Without it no certificate is
    /// sent, which shows whether the endpoint insists on one.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The device's private key (PEM: PKCS#8, PKCS#1 or SEC1; or DER PKCS#8).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// The CA certificates the device trusts for the endpoint. Without it, webpki-roots
    /// (which hold Amazon Root CA 1-4 and Starfield) are used.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// An ALPN protocol to offer (repeatable), e.g. x-amzn-mqtt-ca on port 443.
    #[arg(long, value_name = "PROTOCOL")]
    pub alpn: Vec<String>,
    /// Send an MQTT CONNECT after the handshake (implied by the options below).
    #[arg(long)]
    pub connect: bool,
    /// The MQTT client id (default iotscope-probe-<random>).
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Subscribe to this topic filter after CONNECT.
    #[arg(long, value_name = "FILTER")]
    pub subscribe: Option<String>,
    /// Publish a small message (QoS 1) on this topic after CONNECT.
    #[arg(long, value_name = "TOPIC")]
    pub publish: Option<String>,
    /// The MQTT version to speak (default 3.1.1).
    #[arg(long, value_enum, value_name = "VERSION")]
    pub mqtt: Option<MqttVersion>,
    /// Output form: steps, ladder and findings as text, or one JSON object.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Give up on each step (resolution, TCP, TLS, each MQTT answer) after this many seconds.
    #[arg(long, value_name = "S", default_value = "10", value_parser = parse_positive_seconds)]
    pub timeout: Duration,
    /// Append the connection's TLS secrets to this file (SSLKEYLOGFILE format, mode 0600).
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
    /// Colour in text output.
    #[arg(long, value_enum, default_value_t = Colour::Auto)]
    pub colour: Colour,
    #[command(flatten)]
    pub policy: PolicyFlags,
    #[command(flatten)]
    pub account: AccountFlags,
}

fn parse_positive_seconds(s: &str) -> Result<Duration, String> {
    let d = parse_seconds(s)?;
    if d.is_zero() {
        return Err("the timeout must be more than 0 seconds".into());
    }
    Ok(d)
}

fn parse_upstream(s: &str) -> Result<Upstream, iotscope_proxy::error::Error> {
    Upstream::parse(s)
}

/// Seconds as a decimal number; 0 is allowed (it switches a timeout off).
fn parse_seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !v.is_finite() || !(0.0..=31_536_000.0).contains(&v) {
        return Err(format!("{s:?} is not between 0 and 31536000 seconds"));
    }
    Ok(Duration::from_secs_f64(v))
}
