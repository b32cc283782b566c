//! Captures: pcap and pcapng files turned into the byte streams the decoder reads.
//!
//! The path of a frame: [`reader`] yields it with its time and link type, [`link`] finds the
//! IP packet in it, [`ip`] the TCP segment (reassembling IP fragments), [`tcp`] reads the
//! segment's header, and [`flows`] puts it into its connection, where [`roles`] settles
//! which side is the device and [`reassembly`] orders the bytes. What comes out are
//! [`StreamEvent`]s: a connection opened, bytes or a TCP fact for one direction, a connection
//! closed, or a warning. [`writer`] goes the other way, writing pcapng files (with TLS keys)
//! for the proxy's recordings.
//!
//! Only [`reader`] and [`writer`] touch I/O; everything else is fed bytes and capture time.
//!
//! ```no_run
//! use iotscope_captures::{CaptureReader, FlowTable, StreamEvent};
//!
//! let mut table = FlowTable::default();
//! for packet in CaptureReader::open("capture.pcapng")? {
//!     table.push(&packet?);
//!     while let Some(event) = table.poll_event() {
//!         if let StreamEvent::Input { flow, dir, input, .. } = event {
//!             println!("flow {flow} {dir:?}: {input:?}");
//!         }
//!     }
//! }
//! table.finish();
//! # Ok::<(), iotscope_captures::CaptureError>(())
//! ```

pub mod flows;
pub mod ip;
pub mod link;
pub mod pcapng;
pub mod reader;
pub mod reassembly;
pub mod replay;
pub mod roles;
mod taken_table;
pub mod tcp;
mod window;
pub mod writer;

pub use flows::{FlowConfig, FlowStats, FlowTable, StreamEvent};
pub use reader::{CaptureError, CaptureFormat, CaptureReader, RawPacket};
pub use tcp::TcpFlags;
pub use writer::{PcapngWriter, TcpConversationWriter};
