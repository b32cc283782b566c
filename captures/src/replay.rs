//! From a capture file to finished connection traces: the reader, the flow table and one
//! decoder [`Session`] per connection, wired together.
//!
//! Connections come out as they finish, in the order they finish, and their state is dropped
//! then: memory follows the number of connections open at one moment of the capture, not its
//! size. A damaged file still yields every connection decoded up to the damage, then the error.

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::sync::Arc;

use iotscope_decoder::keylog::{KeyLog, KeySource, LiveKeys};
use iotscope_decoder::{Identity, Session, SessionConfig, Trace};

use crate::flows::{FlowConfig, FlowTable, StreamEvent};
use crate::reader::{CaptureError, CaptureReader, RawPacket};

/// What the replay hands out, in order.
#[derive(Debug)]
pub enum ReplayItem {
    /// A finished connection.
    Connection(Box<Trace>),
    /// Something the user should know; `packet` is the frame number (0: the whole capture).
    Warning { packet: u64, message: String },
    /// The file could not be read further; everything before it was handed out already.
    Error(CaptureError),
}

/// Options for the decoder sessions a replay opens.
#[derive(Clone, Debug, Default)]
pub struct ReplayConfig {
    pub reveal_passwords: bool,
    pub flows: FlowConfig,
    /// Key material for decryption: a key log's text (SSLKEYLOGFILE format).
    pub keylog: Option<Arc<KeyLog>>,
}

pub struct Replay<R: Read> {
    reader: CaptureReader<R>,
    flows: FlowTable,
    sessions: HashMap<u64, Session>,
    source: String,
    config: ReplayConfig,
    /// The key log given, plus secrets found in the file as it is read. Sessions opened
    /// before a Decryption Secrets Block still see it, since they share this store.
    keylog: Arc<LiveKeys>,
    numbered: u64,
    ready: VecDeque<ReplayItem>,
    finished: bool,
    /// The frame being handled; its buffer is reused for the next.
    packet: RawPacket,
    /// Byte offset reached in the file (for progress).
    pub offset: u64,
}

impl<R: Read> Replay<R> {
    pub fn new(
        reader: CaptureReader<R>,
        source: impl Into<String>,
        config: ReplayConfig,
    ) -> Replay<R> {
        let keylog = Arc::new(LiveKeys::new(
            config.keylog.as_deref().cloned().unwrap_or_default(),
        ));
        Replay {
            reader,
            flows: FlowTable::new(config.flows.clone()),
            sessions: HashMap::new(),
            source: source.into(),
            config,
            keylog,
            numbered: 0,
            ready: VecDeque::new(),
            finished: false,
            packet: RawPacket::default(),
            offset: 0,
        }
    }

    /// Connections still open (decoding in progress).
    pub fn open_sessions(&self) -> usize {
        self.sessions.len()
    }

    fn handle(&mut self, ev: StreamEvent) {
        match ev {
            StreamEvent::Opened {
                flow,
                device,
                endpoint,
                hint,
                ..
            } => {
                self.numbered += 1;
                let identity = Identity {
                    device: Some(device),
                    endpoint: Some(endpoint),
                    endpoint_name: None,
                    source: Some(self.source.clone()),
                    number: self.numbered,
                };
                let config = SessionConfig {
                    reveal_passwords: self.config.reveal_passwords,
                    hint,
                    keylog: Some(self.keylog.clone() as Arc<dyn KeySource>),
                };
                self.sessions.insert(flow, Session::new(identity, config));
            }
            StreamEvent::Input {
                flow,
                dir,
                ts,
                input,
            } => {
                if let Some(s) = self.sessions.get_mut(&flow) {
                    s.feed(dir, input, ts);
                }
            }
            StreamEvent::Closed { flow, .. } => {
                if let Some(s) = self.sessions.remove(&flow) {
                    self.ready
                        .push_back(ReplayItem::Connection(Box::new(s.finish())));
                }
            }
            StreamEvent::Warning { packet, message } => self
                .ready
                .push_back(ReplayItem::Warning { packet, message }),
        }
    }

    fn drain_flows(&mut self) {
        while let Some(ev) = self.flows.poll_event() {
            self.handle(ev);
        }
    }

    /// Key-log text found inside the file (pcapng Decryption Secrets Blocks) joins the keys.
    fn take_file_secrets(&mut self) {
        for text in self.reader.take_secrets() {
            self.keylog.add_text(&String::from_utf8_lossy(&text));
        }
    }
}

impl<R: Read> Iterator for Replay<R> {
    type Item = ReplayItem;

    fn next(&mut self) -> Option<ReplayItem> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            if self.finished {
                return None;
            }
            match self.reader.read_into(&mut self.packet) {
                Ok(true) => {
                    self.offset = self.packet.file_offset;
                    self.take_file_secrets();
                    self.flows.push(&self.packet);
                    self.drain_flows();
                }
                Err(e) => {
                    self.finished = true;
                    self.flows.finish();
                    self.drain_flows();
                    self.ready.push_back(ReplayItem::Error(e));
                }
                Ok(false) => {
                    self.finished = true;
                    self.take_file_secrets();
                    self.flows.finish();
                    self.drain_flows();
                }
            }
        }
    }
}
