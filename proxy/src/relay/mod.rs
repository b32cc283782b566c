//! The pieces every relayed connection is made of, whatever the mode: the limits, the
//! listener, the passthrough pump, the decoder task that prints live, and the recorder.
//! [`crate::serve`] puts them together; [`crate::mitm`] uses them for its two TLS legs.

pub mod descriptors;
pub mod limits;
pub mod listener;
pub mod live;
pub mod passthrough;
pub mod record;

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use crate::dial::Dial;
use limits::Limits;
use live::{LiveConfig, Out};
use record::Record;

/// What every connection task shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) dial: Arc<Dial>,
    pub(crate) limits: Limits,
    pub(crate) live: Arc<LiveConfig>,
    pub(crate) out: mpsc::Sender<Out>,
    pub(crate) rec: Option<mpsc::Sender<Record>>,
    pub(crate) force: watch::Receiver<bool>,
}
