//! `iotscope qualify`: Device Advisor's checks, run on the bench against a real device.
//!
//! AWS Device Advisor tests device software against best practice for TLS and MQTT, but only
//! in the cloud, against its own test endpoint. Here iotscope is the endpoint: the device
//! connects to `--listen`, and for each case iotscope plays its part (a bad certificate, a
//! refused CONNECT, a withheld acknowledgement, a dropped connection), watches what the
//! device does, and gives PASS, FAIL or NOT RUN with the events and timings that decided it.
//! Cases carry Device Advisor's test ids where it has one (docs/qualify.md lists them all
//! with their sources).
//!
//! - [`cases`]: the catalogue: ids, sources, what the device must do, time limits;
//! - [`large`]: the large certificate chain of TLS_LargeServerCert;
//! - [`wire`]: accepting a device: TLS with a chosen certificate, MQTT packets in and out;
//! - [`tls_cases`] and [`mqtt_cases`]: what each case does and how it decides;
//! - [`relay`]: a device connection in an MQTT case, and with `--upstream` its leg to a
//!   real endpoint;
//! - [`timing`]: the back-off and jitter rules over the device's own intervals;
//! - [`output`]: the table, JSON Lines and JUnit XML.

pub mod cases;
pub mod large;
pub mod mqtt_cases;
pub mod output;
pub mod relay;
pub mod timing;
pub mod tls_cases;
pub mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use iotscope_proxy::ca::mint::Minter;
use iotscope_proxy::ca::{KeyType, LocalCa};
use iotscope_proxy::error::Error;
use iotscope_proxy::mitm::identities::Identities;
use iotscope_proxy::upstream::Upstream;
use serde::Serialize;
use tokio::net::TcpListener;

pub use cases::{Case, Suite, CASES};

/// How results are written to stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QualifyFormat {
    Table,
    Json,
}

#[derive(Clone, Debug)]
pub struct QualifyOptions {
    pub listen: SocketAddr,
    /// The name devices connect to: the certificate's name when the device sends no SNI.
    pub endpoint_name: String,
    /// The CA devices trust (`iotscope ca init`, or made here at first use).
    pub ca_dir: PathBuf,
    /// Suites to run (empty: all).
    pub suites: Vec<Suite>,
    /// Case ids to run (empty: every case of the suites).
    pub cases: Vec<String>,
    pub junit: Option<PathBuf>,
    pub format: QualifyFormat,
    /// Overrides every case's own time limit.
    pub time_limit: Option<Duration>,
    /// `--upstream`: the MQTT cases relay the device to this endpoint.
    pub upstream: Option<Upstream>,
    /// The identity presented upstream and the CA trusted there: `iotscope proxy --mitm`'s
    /// `--device-cert`/`--device-key`, `--device-certs` and `--upstream-ca`.
    pub device_cert: Option<PathBuf>,
    pub device_key: Option<PathBuf>,
    pub device_certs: Option<PathBuf>,
    pub upstream_ca: Option<PathBuf>,
}

/// PASS, FAIL or NOT RUN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "PASS")]
    Pass,
    #[serde(rename = "FAIL")]
    Fail,
    #[serde(rename = "NOT RUN")]
    NotRun,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::NotRun => "NOT RUN",
        }
    }
}

/// One thing seen or done during a case, at its time since the case started.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    pub at_ms: u64,
    pub what: String,
}

/// A case's result: the verdict, the sentence that explains it, and the evidence.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub case: &'static str,
    pub suite: &'static str,
    pub verdict: Verdict,
    pub reason: String,
    pub duration_ms: u64,
    pub evidence: Vec<Event>,
}

/// What a case has to work with: the listener, the certificates, its deadline, its log.
pub struct Ctx<'a> {
    pub listener: &'a TcpListener,
    pub minter: &'a Minter,
    pub ca: &'a LocalCa,
    pub endpoint_name: &'a str,
    pub start: Instant,
    pub deadline: tokio::time::Instant,
    pub events: Vec<Event>,
    /// `--upstream`, when the MQTT cases relay.
    pub upstream: Option<&'a relay::UpstreamCfg>,
}

impl Ctx<'_> {
    /// Records an event now.
    pub fn note(&mut self, what: impl Into<String>) {
        let at_ms = self.start.elapsed().as_millis() as u64;
        self.events.push(Event {
            at_ms,
            what: what.into(),
        });
    }

    /// Milliseconds since the case started.
    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
}

/// A case's verdict and its reason (the evidence is in the context).
pub type Decision = (Verdict, String);

/// Runs the selected cases one after another; the exit status is 0 when none failed, 1 when
/// one did, 2 on bad input.
pub fn run(opts: QualifyOptions) -> Result<u8, Error> {
    let selected = select(&opts)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Environment(format!("cannot start the runtime: {e}")))?;
    rt.block_on(run_async(opts, selected))
}

/// The cases `--suite` and `--case` select, in catalogue order; an unknown name is an error.
pub fn select(opts: &QualifyOptions) -> Result<Vec<&'static Case>, Error> {
    for name in &opts.cases {
        if !CASES.iter().any(|c| c.id.eq_ignore_ascii_case(name)) {
            return Err(Error::BadValue(format!(
                "no qualify case is named {name:?}; the cases are: {}",
                CASES.iter().map(|c| c.id).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    Ok(CASES
        .iter()
        .filter(|c| opts.suites.is_empty() || opts.suites.contains(&c.suite))
        .filter(|c| {
            opts.cases.is_empty() || opts.cases.iter().any(|n| c.id.eq_ignore_ascii_case(n))
        })
        .collect())
}

async fn run_async(opts: QualifyOptions, selected: Vec<&'static Case>) -> Result<u8, Error> {
    let (ca, made) = LocalCa::init(&opts.ca_dir, KeyType::EcdsaP256, 3650)?;
    if made {
        eprintln!(
            "iotscope qualify: made a CA in {}; devices must trust {}",
            opts.ca_dir.display(),
            opts.ca_dir.join(iotscope_proxy::ca::CERT_FILE).display()
        );
    }
    let minter = Minter::new(&ca)?;
    let upstream = match &opts.upstream {
        None => None,
        Some(addr) => {
            let cfg = relay::UpstreamCfg {
                addr: addr.clone(),
                roots: iotscope_proxy::tls_setup::client::roots(opts.upstream_ca.as_deref())?,
                identities: Identities::load(
                    opts.device_cert.as_deref(),
                    opts.device_key.as_deref(),
                    opts.device_certs.as_deref(),
                )?,
                name: opts.endpoint_name.clone(),
            };
            cfg.check().await?;
            eprintln!("iotscope qualify: the MQTT cases relay devices to the upstream {addr}");
            Some(cfg)
        }
    };
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|e| Error::Environment(format!("cannot listen on {}: {e}", opts.listen)))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::Environment(format!("no local address: {e}")))?;
    eprintln!(
        "iotscope qualify: listening on {local} as {}; {} case(s)",
        opts.endpoint_name,
        selected.len()
    );
    let mut outcomes = Vec::new();
    for case in selected {
        let limit = opts.time_limit.unwrap_or(case.limit);
        eprintln!(
            "iotscope qualify: case {} (time limit {} s): {}",
            case.id,
            limit.as_secs(),
            case.device_must
        );
        let start = Instant::now();
        let mut ctx = Ctx {
            listener: &listener,
            minter: &minter,
            ca: &ca,
            endpoint_name: &opts.endpoint_name,
            start,
            deadline: tokio::time::Instant::now() + limit,
            events: Vec::new(),
            upstream: upstream.as_ref().filter(|_| case.suite == Suite::Mqtt),
        };
        let (verdict, reason) = case.run(&mut ctx).await;
        let outcome = Outcome {
            case: case.id,
            suite: case.suite.as_str(),
            verdict,
            reason,
            duration_ms: start.elapsed().as_millis() as u64,
            evidence: ctx.events,
        };
        eprintln!(
            "iotscope qualify: case {}: {} ({})",
            case.id,
            verdict.as_str(),
            outcome.reason
        );
        if opts.format == QualifyFormat::Json {
            println!("{}", output::json_line(&outcome));
        }
        outcomes.push(outcome);
        // Whatever the device still has open belongs to this case, not the next one.
        wire::drain(&listener).await;
    }
    if opts.format == QualifyFormat::Table {
        print!("{}", output::table(&outcomes));
    }
    if let Some(path) = &opts.junit {
        std::fs::write(path, output::junit(&outcomes)).map_err(|source| Error::Io {
            doing: format!("write the JUnit report {}", path.display()),
            source,
        })?;
    }
    Ok(if outcomes.iter().any(|o| o.verdict == Verdict::Fail) {
        1
    } else {
        0
    })
}
