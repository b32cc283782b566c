//! The pieces every relayed connection is made of, whatever the mode: the limits, the
//! listener, the passthrough pump, the decoder task that prints live, and the recorder.
//! [`crate::serve`] puts them together; [`crate::mitm`] uses them for its two TLS legs.

pub mod descriptors;
pub mod limits;
pub mod listener;
pub mod live;
pub mod passthrough;
pub mod record;
pub mod stop;

use std::sync::Arc;

use tokio::sync::mpsc;

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
    /// Given once the grace period at shutdown is over.
    pub(crate) force: stop::Stop,
}
