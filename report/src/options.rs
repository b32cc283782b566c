//! The choices a user makes about a report, as plain values: the command line fills them, and
//! so can any other front end.

use std::path::PathBuf;

/// The two output forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// A header, a ladder of events and the findings per connection.
    #[default]
    Text,
    /// JSON Lines: one object per connection.
    Json,
}

/// Colour in text output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Colour {
    /// When standard output is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    Always,
    Never,
}

impl Colour {
    /// The one place that decides whether text is coloured.
    pub fn enabled(self, is_tty: bool) -> bool {
        match self {
            Colour::Always => true,
            Colour::Never => false,
            Colour::Auto => is_tty && std::env::var_os("NO_COLOR").is_none(),
        }
    }
}

/// What every command that reports connections shares.
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    /// The endpoint the device should reach; its SNI is checked against it.
    pub endpoint: Option<String>,
    /// The endpoint is an AWS IoT custom domain.
    pub custom_domain: bool,
    pub format: Format,
    /// With JSON, every event in each connection's object.
    pub events: bool,
    /// MQTT passwords shown instead of `<redacted>`.
    pub reveal_passwords: bool,
    pub colour: Colour,
    /// Policies to check every connection's MQTT requests against (`--policy`, read by the
    /// front end), with the thing, region and account they need.
    pub policy: Option<iotscope_decoder::policy::Given>,
    /// Where to ask what the account says about each connection (`--account` files, `--aws`);
    /// `None`: no account question is asked.
    pub account: Option<iotscope_account::SharedSource>,
}

/// `iotscope replay`.
#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    /// Capture files (pcap or pcapng).
    pub files: Vec<PathBuf>,
    /// A TLS key log (SSLKEYLOGFILE format).
    pub keylog: Option<PathBuf>,
    /// Only connections whose endpoint uses this TCP port.
    pub port: Option<u16>,
    /// No progress bar, even on a terminal.
    pub quiet: bool,
    pub report: ReportOptions,
}
