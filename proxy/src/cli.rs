//! The command line.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

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
    /// Print what a finding code means and what to do about it.
    Explain(ExplainArgs),
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
    /// Show MQTT passwords instead of <redacted>.
    #[arg(long)]
    pub reveal_passwords: bool,
    /// Colour in text output.
    #[arg(long, value_enum, default_value_t = Colour::Auto)]
    pub colour: Colour,
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
