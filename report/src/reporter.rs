//! Where finished connections go: diagnosed, checked across connections, printed in the
//! chosen form, and counted for the exit status and the closing summary.

use std::io::{IsTerminal, Write};

use iotscope_account::AccountSource;
use iotscope_decoder::account::AccountFacts;
use iotscope_decoder::diagnose::{Context, Diagnoser, Finding, Severity};
use iotscope_decoder::facts::Facts;
use iotscope_decoder::Trace;

use crate::options::{Format, ReportOptions};
use crate::sorted_json::SortedJson;
use crate::{json, text};

/// The rendering buffer kept between connections, at most.
const KEEP_BUFFER: usize = 1 << 20;

pub struct Reporter<W: Write> {
    out: W,
    /// Flush after every connection, so that a reader at the other end sees it at once.
    flush_each: bool,
    /// One connection's rendered bytes; kept to be reused by the next.
    buf: Vec<u8>,
    /// The same for the text form.
    text: String,
    json: SortedJson,
    format: Format,
    events: bool,
    style: text::Style,
    diagnoser: Diagnoser,
    /// Where account facts come from (`--account`, `--aws`); `None`: no account question.
    account: Option<Box<dyn AccountSource + Send>>,
    pub connections: u64,
    pub by_severity: [u64; 3],
    pub codes: std::collections::BTreeMap<&'static str, u64>,
}

impl<W: Write> Reporter<W> {
    pub fn new(out: W, args: &ReportOptions, is_tty: bool) -> Reporter<W> {
        let colour = args.colour.enabled(is_tty);
        Reporter {
            out,
            flush_each: true,
            buf: Vec::new(),
            text: String::new(),
            json: SortedJson::new(),
            format: args.format,
            events: args.events,
            style: text::Style { colour },
            diagnoser: Diagnoser::new(Context {
                expected_endpoint: args.endpoint.clone(),
                custom_domain: args.custom_domain,
                policy: args.policy.clone(),
            }),
            account: args
                .account
                .clone()
                .map(|s| Box::new(s) as Box<dyn AccountSource + Send>),
            connections: 0,
            by_severity: [0; 3],
            codes: Default::default(),
        }
    }

    /// Leaves flushing to the writer and to [`Reporter::flush`]: for a batch of connections
    /// going to a file or a pipe, where one write per connection would cost more than the
    /// rendering.
    pub fn batched(mut self) -> Reporter<W> {
        self.flush_each = false;
        self
    }

    /// Asks `source` about every connection before diagnosing it.
    pub fn with_account(mut self, source: Box<dyn AccountSource + Send>) -> Reporter<W> {
        self.account = Some(source);
        self
    }

    /// What the account says about the connection `facts` sum up, when a source was given.
    fn account_facts(&mut self, facts: &Facts) -> Option<AccountFacts> {
        let source = self.account.as_mut()?;
        Some(iotscope_account::resolve(source.as_mut(), facts))
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    pub fn findings(&mut self, trace: &Trace) -> Vec<Finding> {
        let facts = Facts::new(trace);
        let account = self.account_facts(&facts);
        self.diagnoser.connection_with(&facts, account.as_ref())
    }

    /// Diagnoses and prints one finished connection: its facts are gathered once, for the
    /// rules and for the output.
    pub fn connection(&mut self, trace: &Trace) -> std::io::Result<()> {
        let facts = Facts::new(trace);
        let account = self.account_facts(&facts);
        let found = self.diagnoser.connection_with(&facts, account.as_ref());
        self.connections += 1;
        for f in &found {
            self.by_severity[f.severity as usize] += 1;
            *self.codes.entry(f.code.as_str()).or_default() += 1;
        }
        match self.format {
            Format::Json => {
                self.buf.clear();
                let account = account.as_ref().map(crate::account::json);
                json::write_connection_with_account(
                    &mut self.buf,
                    &mut self.json,
                    &facts,
                    &found,
                    self.events,
                    account.as_ref(),
                )?;
                self.buf.push(b'\n');
                self.out.write_all(&self.buf)?;
            }
            Format::Text => {
                self.text.clear();
                let line = account.as_ref().and_then(crate::account::line);
                text::write_connection_with_account(
                    &mut self.text,
                    &facts,
                    &found,
                    self.style,
                    line.as_deref(),
                );
                self.text.push('\n');
                self.out.write_all(self.text.as_bytes())?;
            }
        }
        // One huge connection should not pin its memory for the rest of the run.
        if self.buf.capacity() > KEEP_BUFFER {
            self.buf = Vec::new();
        }
        if self.text.capacity() > KEEP_BUFFER {
            self.text = String::new();
        }
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }

    /// A line for people at the end of a text report.
    pub fn summary(&mut self) -> std::io::Result<()> {
        if self.format != Format::Text {
            return Ok(());
        }
        let [info, warning, error] = self.by_severity;
        let codes: Vec<String> = self
            .codes
            .iter()
            .map(|(c, n)| {
                if *n > 1 {
                    format!("{c} ×{n}")
                } else {
                    c.to_string()
                }
            })
            .collect();
        writeln!(
            self.out,
            "{} connection{}: {error} error, {warning} warning, {info} info finding{}{}",
            self.connections,
            if self.connections == 1 { "" } else { "s" },
            if error + warning + info == 1 { "" } else { "s" },
            if codes.is_empty() {
                String::new()
            } else {
                format!(" ({})", codes.join(", "))
            }
        )
    }

    /// 1 when any finding was an error, else 0.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.by_severity[Severity::Error as usize] > 0)
    }
}

pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}
