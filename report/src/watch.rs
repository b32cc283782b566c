//! A second pair of eyes on the connections a report is made of.
//!
//! The text and JSON renderers write to one stream; the web view and the HTML report want the
//! same connections as values, diagnosed once. A [`Watch`] is told when a connection opens
//! and is handed each finished one with the findings the [`crate::Reporter`] drew, so that
//! nothing is diagnosed twice and the cross-connection state (client IDs in use) stays in one
//! place. Implementations must not block: a proxy calls them from its decoder tasks and its
//! printer thread.

use std::fmt;
use std::sync::Arc;

use iotscope_decoder::diagnose::Finding;
use iotscope_decoder::facts::Facts;
use iotscope_decoder::{Identity, Timestamp};

pub trait Watch: Send + Sync {
    /// A connection began (the proxy accepted it). Captures only report finished ones.
    fn opened(&self, _identity: &Identity, _at: Timestamp) {}

    /// A connection ended: its facts and its findings, as the report prints them.
    fn finished(&self, facts: &Facts, findings: &[Finding]);
}

/// A shared [`Watch`], carried in the report options.
#[derive(Clone)]
pub struct Watcher(pub Arc<dyn Watch>);

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Watcher")
    }
}
