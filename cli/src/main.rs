//! `iotscope`: shows why an IoT device cannot connect to its MQTT-over-TLS endpoint.
//!
//! This crate only reads the command line and dispatches: each command's work is in the
//! libraries (`iotscope_report` for replay and explain, `iotscope_proxy` for the network side).

mod args;
mod convert;

use clap::Parser;
use std::process::ExitCode;

use args::{Cli, Command};
use iotscope_proxy::{ca, cert_check, probe, serve};
use iotscope_report::{explain, policy, replay, Watcher};

/// mimalloc rather than the system allocator: a replay frees what it allocated for each
/// connection a moment later, hundreds of thousands of times, and glibc's malloc spent a
/// sixth of the run on that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long mimalloc waits before it gives memory that fell free back to the kernel, for
/// the command about to run. `MIMALLOC_PURGE_DELAY` in the environment still decides, when set.
///
/// - A replay keeps what it frees (`-1`, never). Its reporting thread frees each connection's
///   trace a moment after the decoding thread built it; with mimalloc's default, memory that
///   falls free goes back 10 ms later, so the decoding thread kept faulting in fresh (huge)
///   pages that the kernel zeroes first: a tenth of a short-connection replay's samples in
///   `perf record`, half its system time. A replay holds a bounded amount of memory.
/// - The proxy and the endpoint give it back at once (`0`). They go quiet between a burst of
///   handshakes and the devices' keep-alives, and a quiet process makes no call into the
///   allocator, which is when a delayed purge would happen: what the handshakes used stayed
///   in the process (7–9 KiB per idle MITM connection). Bulk streams and handshake rates
///   measured the same with it (`docs/performance.md`, "Idle connections, third round").
fn purge_delay(millis: std::ffi::c_long) {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    extern "C" {
        // mimalloc's own `mi_option_set`, linked in with the allocator above.
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    /// `mi_option_purge_delay` in mimalloc.h (v2 and v3): milliseconds, -1 for never.
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
    // SAFETY: mimalloc is the global allocator, and its options may be set at any time;
    // the option number is that of the header of the bundled mimalloc.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, millis) }
}

/// No transparent huge pages for a process that holds connections (the proxy, the endpoint).
/// `MIMALLOC_ALLOW_THP` in the environment still decides, when set.
///
/// mimalloc asks for huge pages on the arena it reserves, so with the
/// kernel's THP set to `madvise` the first byte used in each 2 MiB of the
/// arena brought in the whole 2 MiB. Holding 1,000 idle connections, the proxy's RSS then
/// moved in 2 MiB steps (4 to 12 MiB of huge pages between runs of the same build), and at
/// rest it held 19–21 MiB. Without them it holds 11 MiB at rest, and what each connection
/// adds is what it keeps on the heap (`docs/performance.md`, "Idle connections, eighth
/// round"); bulk streams measured the same either way.
fn no_huge_pages() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours; it
    // applies to this process's later page faults (and is inherited by its children).
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let code = match cli.command {
        Command::Replay(args) => {
            purge_delay(-1);
            match (given(&args.report.policy), account(&args.report.account)) {
                (Ok(given), Ok(account)) => {
                    let html = args.html.clone();
                    let mut opts: iotscope_report::ReplayOptions = args.into();
                    opts.report.policy = given;
                    opts.report.account = account;
                    match html {
                        None => replay::run(opts),
                        Some(path) => replay_with_html(opts, &path),
                    }
                }
                (Err(code), _) | (_, Err(code)) => code,
            }
        }
        Command::Proxy(args) => match (given(&args.report.policy), account(&args.report.account)) {
            (Ok(given), Ok(account)) => {
                purge_delay(0);
                no_huge_pages();
                let web = args.web.map(|a| (a, args.web_allow_remote));
                let mut config: iotscope_proxy::config::ProxyConfig = (*args).into();
                config.report.policy = given;
                config.report.account = account;
                match web.map(|(addr, remote)| start_web(addr, remote)) {
                    Some(Err(code)) => code,
                    Some(Ok(server)) => {
                        config.report.watch = Some(Watcher(server.hub.clone()));
                        or_bad_input(serve::run(config))
                    }
                    None => or_bad_input(serve::run(config)),
                }
            }
            (Err(code), _) | (_, Err(code)) => code,
        },
        Command::Explain(args) => explain_command(args),
        Command::Cert(args) => match args.command {
            args::CertCommand::Check(args) => match account(&args.account) {
                Ok(account) => {
                    let mut config: cert_check::CertCheckConfig = args.into();
                    config.account = account;
                    or_bad_input(cert_check::run(config))
                }
                Err(code) => code,
            },
        },
        Command::Ca(args) => or_bad_input(ca::command::run(args.command.into()).map(|()| 0)),
        Command::Probe(args) => match (given(&args.policy), account(&args.account)) {
            (Ok(given), Ok(account)) => {
                let mut config: probe::ProbeConfig = args.into();
                config.policy = given;
                config.account = account;
                or_bad_input(probe::run(config))
            }
            (Err(code), _) | (_, Err(code)) => code,
        },
        Command::Policy(args) => policy_command(args.command),
        Command::Endpoint(args) => match endpoint_config(args) {
            Ok(cfg) => {
                purge_delay(0);
                no_huge_pages();
                or_bad_input(iotscope_endpoint::run(cfg))
            }
            Err(e) => or_bad_input(Err(e)),
        },
        Command::Demo(args) => demo_command(args),
        Command::Logs(args) => logs_command(args),
        Command::Qualify(args) => {
            or_bad_input(qualify_options(args).and_then(iotscope_endpoint::qualify::run))
        }
    };
    ExitCode::from(code)
}

/// Starts the live web view and says where it is; `Err` is the exit status.
fn start_web(addr: std::net::SocketAddr, remote: bool) -> Result<iotscope_web::live::Server, u8> {
    match iotscope_web::live::Server::start(addr, remote) {
        Err(e) => {
            eprintln!("iotscope: {e}");
            Err(2)
        }
        Ok(server) => {
            eprintln!("iotscope: web view at {}", server.url());
            if server.everywhere() {
                eprintln!("iotscope: (on every address of this machine: open it with the machine's name or address in place of {})", server.access.addr.ip());
            }
            Ok(server)
        }
    }
}

/// `iotscope demo`; with `--web` the page stays up after the devices are done, until Ctrl-C,
/// and the exit status is still the demo's.
fn demo_command(args: args::DemoArgs) -> u8 {
    let server = match args.web.map(|a| start_web(a, args.web_allow_remote)) {
        Some(Err(code)) => return code,
        Some(Ok(s)) => Some(s),
        None => None,
    };
    let code = or_bad_input(iotscope_endpoint::demo::run(
        iotscope_endpoint::demo::DemoOptions {
            format: args.format.into(),
            colour: args.colour.into(),
            watch: server.as_ref().map(|s| Watcher(s.hub.clone())),
        },
    ));
    if let Some(s) = server {
        eprintln!(
            "iotscope: the demo is over; its connections stay at {} until Ctrl-C",
            s.url()
        );
        s.wait_for_interrupt();
    }
    code
}

/// `iotscope endpoint`'s flags as the library's configuration (the registry file read here).
fn endpoint_config(
    a: args::EndpointArgs,
) -> Result<iotscope_endpoint::EndpointConfig, iotscope_proxy::error::Error> {
    let registry = match &a.registry {
        Some(p) => iotscope_endpoint::Registry::load(p)?,
        None if !a.account_files.is_empty() => {
            let files = iotscope_account::Files::open(&a.account_files)
                .map_err(|e| iotscope_proxy::error::Error::BadFile(format!("--account {e}")))?;
            let r = iotscope_endpoint::account::registry_from(&files)?;
            eprintln!(
                "iotscope endpoint: registry from --account: account {}, {} certificates, {} CA certificates, {} policies, {} things",
                r.account_id,
                r.certificates.len(),
                r.ca_certificates.len(),
                r.policies.len(),
                r.things.len()
            );
            r
        }
        None => iotscope_endpoint::Registry::new(iotscope_endpoint::registry::EXAMPLE_ACCOUNT),
    };
    let state_dir = match a.state_dir {
        Some(d) => d,
        None => iotscope_proxy::ca::default_dir()?
            .parent()
            .map(|p| p.join("endpoint"))
            .unwrap_or_else(|| std::path::PathBuf::from("iotscope-endpoint")),
    };
    Ok(iotscope_endpoint::EndpointConfig {
        endpoint_name: a.name,
        mqtt: Some(a.listen),
        mqtt_alpn: a.listen_alpn,
        https: a.listen_https,
        region: a.region,
        state_dir,
        registry,
        log: a.log,
        max_connections: a.max_connections,
        session_expiry: a.session_expiry,
        require_sni: a.require_sni,
    })
}

/// `replay --html FILE`: the usual report on stdout, and the HTML file beside it.
fn replay_with_html(mut opts: iotscope_report::ReplayOptions, path: &std::path::Path) -> u8 {
    let names: Vec<String> = opts
        .files
        .iter()
        .map(|f| {
            f.file_name()
                .map_or_else(|| f.display().to_string(), |n| n.to_string_lossy().into())
        })
        .collect();
    let title = format!("iotscope report — {}", names.join(", "));
    let html = match iotscope_web::report::HtmlReport::create(path, &title) {
        Ok(h) => std::sync::Arc::new(h),
        Err(e) => {
            eprintln!(
                "iotscope: cannot write the HTML report {}: {e}",
                path.display()
            );
            return 2;
        }
    };
    opts.report.watch = Some(Watcher(html.clone()));
    let code = replay::run(opts);
    match html.finish() {
        Ok(n) => {
            eprintln!(
                "iotscope: wrote the HTML report of {n} connection{} to {}",
                if n == 1 { "" } else { "s" },
                path.display()
            );
            code
        }
        Err(e) => {
            eprintln!(
                "iotscope: writing the HTML report {} failed: {e}",
                path.display()
            );
            2
        }
    }
}

/// `iotscope qualify`'s flags as the library's options.
fn qualify_options(
    a: args::QualifyArgs,
) -> Result<iotscope_endpoint::qualify::QualifyOptions, iotscope_proxy::error::Error> {
    use iotscope_endpoint::qualify::{QualifyFormat, Suite};
    let mut suites = Vec::new();
    for s in &a.suite {
        suites.push(Suite::parse(s).ok_or_else(|| {
            iotscope_proxy::error::Error::BadValue(format!(
                "no qualify suite is named {s:?}; the suites are tls and mqtt"
            ))
        })?);
    }
    Ok(iotscope_endpoint::qualify::QualifyOptions {
        listen: a.listen,
        endpoint_name: a.endpoint,
        ca_dir: iotscope_proxy::ca::dir_or_default(a.ca_dir.as_deref())?,
        suites,
        cases: a.cases,
        junit: a.junit,
        format: match a.format {
            args::QualifyFormatArg::Table => QualifyFormat::Table,
            args::QualifyFormatArg::Json => QualifyFormat::Json,
        },
        time_limit: a.time_limit,
        upstream: a.upstream,
        device_cert: a.device_cert,
        device_key: a.device_key,
        device_certs: a.device_certs,
        upstream_ca: a.upstream_ca,
    })
}

/// A library's error is bad input or a bad invocation: its sentence, and exit status 2.
fn or_bad_input(r: Result<u8, iotscope_proxy::error::Error>) -> u8 {
    r.unwrap_or_else(|e| {
        eprintln!("iotscope: {e}");
        2
    })
}

/// The policy files of `--policy`, read and checked before any work starts; a file that
/// cannot be read or is not a policy is bad input (its name and place, exit status 2).
fn given(flags: &args::PolicyFlags) -> Result<Option<iotscope_decoder::policy::Given>, u8> {
    if flags.policies.is_empty() {
        return Ok(None);
    }
    match policy::load(&flags.policies) {
        Ok(policies) => Ok(Some(iotscope_decoder::policy::Given {
            policies,
            thing: flags.thing.clone(),
            region: flags.region.clone(),
            account: flags.account_id.clone(),
            from_account: false,
            thing_type: None,
            thing_attributes: Vec::new(),
        })),
        Err(e) => {
            eprintln!("iotscope: {e}");
            Err(2)
        }
    }
}

/// The account source: `--aws` (the AWS API), or the `--account` files, read and recognised
/// before any work starts; a file that cannot be read or is not one the AWS CLI prints is bad
/// input (its name, its line, exit status 2).
fn account(flags: &args::AccountFlags) -> Result<Option<iotscope_account::SharedSource>, u8> {
    if flags.aws.aws && !flags.account_files.is_empty() {
        eprintln!("iotscope: --aws and --account cannot be used together: ask the account, or read its files");
        return Err(2);
    }
    if flags.aws.aws {
        // The source only starts its thread here: configuration is read and calls are made
        // when the first connection is resolved.
        let aws = iotscope_account_aws::Aws::new(iotscope_account_aws::AwsOptions {
            profile: flags.aws.aws_profile.clone(),
            region: flags.aws.aws_region.clone(),
        });
        return Ok(Some(iotscope_account::SharedSource::new(Box::new(aws))));
    }
    if flags.account_files.is_empty() {
        return Ok(None);
    }
    match iotscope_account::Files::open(&flags.account_files) {
        Ok(files) => Ok(Some(iotscope_account::SharedSource::new(Box::new(files)))),
        Err(e) => {
            eprintln!("iotscope: --account {e}");
            Err(2)
        }
    }
}

/// Logs go to stderr through tracing (`RUST_LOG`), never mixed with the report on stdout.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// How far back `logs --aws` reads when no --since is given.
const LOGS_AWS_DEFAULT_SPAN_MS: i64 = 3_600_000;

fn logs_command(args: args::LogsArgs) -> u8 {
    let mut since = args.since;
    let mut source: Box<dyn iotscope_account::AccountSource> = if args.aws.aws {
        if !args.files.is_empty() {
            eprintln!("iotscope: logs reads either files or, with --aws, the account's log group, not both");
            return 2;
        }
        if since.is_none() {
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            since = Some(args.until.unwrap_or(now_ms) - LOGS_AWS_DEFAULT_SPAN_MS);
        }
        Box::new(iotscope_account_aws::Aws::new(
            iotscope_account_aws::AwsOptions {
                profile: args.aws.aws_profile.clone(),
                region: args.aws.aws_region.clone(),
            },
        ))
    } else {
        if args.files.is_empty() {
            eprintln!("iotscope: logs needs AWSIotLogsV2 files (aws logs filter-log-events output, or one JSON entry per line), or --aws");
            return 2;
        }
        match iotscope_account::Files::open(&args.files) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("iotscope: {e}");
                return 2;
            }
        }
    };
    let colour: iotscope_report::Colour = args.colour.into();
    let opts = iotscope_report::logs::LogsOptions {
        client_id: args.client_id,
        since_ms: since,
        until_ms: args.until,
        format: args.format.into(),
        colour: colour.enabled(iotscope_report::stdout_is_tty()),
    };
    match iotscope_report::logs::explain(source.as_mut(), &opts) {
        Ok(list) => {
            let mut out = std::io::stdout().lock();
            iotscope_report::logs::write(&mut out, &list, &opts).unwrap_or(2)
        }
        Err(e) => {
            eprintln!("iotscope: logs: {e}");
            2
        }
    }
}

fn explain_command(args: args::ExplainArgs) -> u8 {
    if args.markdown {
        print!("{}", explain::markdown());
        return 0;
    }
    if args.list || args.code.is_none() {
        print!("{}", explain::list_text());
        return 0;
    }
    let code = args.code.unwrap_or_default();
    match iotscope_decoder::diagnose::catalogue::entry_named(&code) {
        Some(e) => {
            print!("{}", explain::entry_text(e));
            0
        }
        None => {
            eprintln!(
                "iotscope: no finding has the code {code:?}; `iotscope explain --list` lists them"
            );
            2
        }
    }
}

fn policy_command(command: args::PolicyCommand) -> u8 {
    let r = match command {
        args::PolicyCommand::Check(args) => policy::check::run((*args).into()),
        args::PolicyCommand::Lint(args) => policy::lint::run(args.into()),
    };
    r.unwrap_or_else(|e| {
        eprintln!("iotscope: {e}");
        2
    })
}
