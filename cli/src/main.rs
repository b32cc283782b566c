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
use iotscope_report::{explain, policy, replay};

/// mimalloc rather than the system allocator: a replay frees what it allocated for each
/// connection a moment later, hundreds of thousands of times, and glibc's malloc spent a
/// sixth of the run on that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let code = match cli.command {
        Command::Replay(args) => match given(&args.report.policy) {
            Ok(given) => {
                let mut opts: iotscope_report::ReplayOptions = args.into();
                opts.report.policy = given;
                replay::run(opts)
            }
            Err(code) => code,
        },
        Command::Proxy(args) => match given(&args.report.policy) {
            Ok(given) => {
                let mut config: iotscope_proxy::config::ProxyConfig = (*args).into();
                config.report.policy = given;
                or_bad_input(serve::run(config))
            }
            Err(code) => code,
        },
        Command::Explain(args) => explain_command(args),
        Command::Cert(args) => match args.command {
            args::CertCommand::Check(args) => or_bad_input(cert_check::run(args.into())),
        },
        Command::Ca(args) => or_bad_input(ca::command::run(args.command.into()).map(|()| 0)),
        Command::Probe(args) => match given(&args.policy) {
            Ok(given) => {
                let mut config: probe::ProbeConfig = args.into();
                config.policy = given;
                or_bad_input(probe::run(config))
            }
            Err(code) => code,
        },
        Command::Policy(args) => policy_command(args.command),
        Command::Endpoint(args) => match endpoint_config(args) {
            Ok(cfg) => or_bad_input(iotscope_endpoint::run(cfg)),
            Err(e) => or_bad_input(Err(e)),
        },
        Command::Demo(args) => or_bad_input(iotscope_endpoint::demo::run(
            iotscope_endpoint::demo::DemoOptions {
                format: args.format.into(),
                colour: args.colour.into(),
            },
        )),
        Command::Qualify(args) => {
            or_bad_input(qualify_options(args).and_then(iotscope_endpoint::qualify::run))
        }
    };
    ExitCode::from(code)
}

/// `iotscope endpoint`'s flags as the library's configuration (the registry file read here).
fn endpoint_config(
    a: args::EndpointArgs,
) -> Result<iotscope_endpoint::EndpointConfig, iotscope_proxy::error::Error> {
    let registry = match &a.registry {
        Some(p) => iotscope_endpoint::Registry::load(p)?,
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
            account: flags.account.clone(),
        })),
        Err(e) => {
            eprintln!("iotscope: {e}");
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
