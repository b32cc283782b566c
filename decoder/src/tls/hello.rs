//! ClientHello and ServerHello as the trace reports them.
//!
//! Each hello is split in two: what is the connection's own (the random, and for a
//! ClientHello the record version), and what the peer offered or chose, which is the same for
//! every connection from the same device software to the same endpoint. That second part is
//! shared between connections ([`super::shared`]): a trace keeps its hellos for the
//! connection's life, and a gateway holds thousands of idle connections that sent the same
//! hello. Field access reads through to the shared part ([`Deref`]).

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use serde::Serialize;

/// A TLS extension as it appeared on the wire: its id and length, four bytes (a hello lists a
/// dozen, and a client that shuffles its extensions gives each connection its own list). It
/// serialises as `{"id": …, "len": …, "name": …}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Extension {
    pub id: u16,
    pub len: u16,
}

impl Extension {
    /// `server_name`, `application_layer_protocol_negotiation`, … or `unknown`; `GREASE` for
    /// RFC 8701 values.
    pub fn name(&self) -> &'static str {
        super::names::extension_name(self.id)
    }
}

impl Serialize for Extension {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut o = s.serialize_struct("Extension", 3)?;
        o.serialize_field("id", &self.id)?;
        o.serialize_field("name", self.name())?;
        o.serialize_field("len", &self.len)?;
        o.end()
    }
}

/// A numbered protocol value that is named when it is shown, for cipher suites, groups and
/// signature schemes. Four bytes: a hello lists dozens of them, and a connection's trace keeps
/// its hellos for the connection's life (with the name beside each value, 32 bytes each, they
/// were a tenth of what an idle connection held after its handshake). It serialises as
/// `{"id": …, "name": …}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Named {
    pub id: u16,
    pub registry: Registry,
}

/// The IANA registry a [`Named`] value is from, which says how it is named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Registry {
    CipherSuite,
    Group,
    SignatureScheme,
}

impl Named {
    pub fn suite(id: u16) -> Named {
        Named {
            id,
            registry: Registry::CipherSuite,
        }
    }

    pub fn group(id: u16) -> Named {
        Named {
            id,
            registry: Registry::Group,
        }
    }

    pub fn sigscheme(id: u16) -> Named {
        Named {
            id,
            registry: Registry::SignatureScheme,
        }
    }

    /// The IANA name, `GREASE`, or the hex value (see [`super::names`]).
    pub fn name(&self) -> Cow<'static, str> {
        match self.registry {
            Registry::CipherSuite => super::names::cipher_name(self.id),
            Registry::Group => super::names::group_name(self.id),
            Registry::SignatureScheme => super::names::sigscheme_name(self.id),
        }
    }
}

/// A list of values as the list of their names, for serde's `serialize_with` and for the
/// wrappers the report writes.
pub fn serialize_names<S: serde::Serializer>(values: &[Named], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(values.iter().map(Named::name))
}

/// A list of values' names joined with commas, for a finding's evidence.
pub fn joined_names(values: &[Named]) -> String {
    values
        .iter()
        .map(Named::name)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Serialize for Named {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut o = s.serialize_struct("Named", 2)?;
        o.serialize_field("id", &self.id)?;
        o.serialize_field("name", &self.name())?;
        o.end()
    }
}

/// How the server_name extension looked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SniForm {
    /// No server_name extension at all.
    Absent,
    /// The extension is there but holds no name, or an empty one.
    Empty,
    /// One DNS host name.
    HostName,
    /// An IPv4 or IPv6 literal, which RFC 6066 forbids.
    IpLiteral,
    /// More than one name.
    Several,
}

/// The 32 random bytes of a hello, shown as lower-case hex. The client's matches the key log's
/// client random.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Random(pub [u8; 32]);

impl fmt::Display for Random {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::hex::encode(&self.0))
    }
}

impl fmt::Debug for Random {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Random {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// A ClientHello: the connection's own random and record version, the order its extensions
/// came in, and the device's offer.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientHello {
    /// Version of the record that carried the hello.
    pub record_version: u16,
    pub random: Random,
    /// Every extension in wire order. Kept apart from the offer because some clients (rustls,
    /// browsers) send their extensions in a new order on every connection: the rest of what
    /// they offer is still the same each time, and still shared. Shared in turn with every
    /// connection whose extensions came in the same order.
    pub extensions: Arc<[Extension]>,
    /// Shared with every connection that offered the same.
    pub offer: Arc<ClientOffer>,
}

impl ClientHello {
    /// The JA3 string, `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`.
    /// Made when asked for, not kept: it follows the extensions' order, so a client that
    /// shuffles them would keep a string of its own (some 160 bytes) for each connection's
    /// life, and it is read only when a report is written.
    pub fn ja3(&self) -> String {
        let ids = |v: &[Named]| v.iter().map(|n| n.id).collect::<Vec<u16>>();
        let extensions: Vec<u16> = self.extensions.iter().map(|e| e.id).collect();
        super::fingerprint::ja3_string(
            self.legacy_version,
            &ids(&self.cipher_suites),
            &extensions,
            &ids(&self.supported_groups),
            &self.ec_point_formats,
        )
    }

    /// The JA3 hash: lower-case hex MD5 of [`ClientHello::ja3`].
    pub fn ja3_hash(&self) -> String {
        self.ja3_with_hash().1
    }

    /// [`ClientHello::ja3`] and its hash, the string made once.
    pub fn ja3_with_hash(&self) -> (String, String) {
        let ja3 = self.ja3();
        let hash = super::fingerprint::md5_hex(&ja3);
        (ja3, hash)
    }
}

impl Serialize for ClientHello {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// The hello as shown: its own fields, its fingerprint, then the offer's.
        #[derive(Serialize)]
        struct Shown<'a> {
            record_version: u16,
            random: Random,
            extensions: &'a [Extension],
            ja3: String,
            ja3_hash: String,
            #[serde(flatten)]
            offer: &'a ClientOffer,
        }
        let (ja3, ja3_hash) = self.ja3_with_hash();
        Shown {
            record_version: self.record_version,
            random: self.random,
            extensions: &self.extensions,
            ja3_hash,
            ja3,
            offer: &self.offer,
        }
        .serialize(s)
    }
}

impl Deref for ClientHello {
    type Target = ClientOffer;

    fn deref(&self) -> &ClientOffer {
        &self.offer
    }
}

/// Everything in a ClientHello but its random, its session id bytes and its extensions' order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ClientOffer {
    /// legacy_version from the message body, e.g. 0x0303.
    pub legacy_version: u16,
    pub session_id_len: u8,
    /// Every offered suite, GREASE included, in wire order.
    pub cipher_suites: Vec<Named>,
    pub compression_methods: Vec<u8>,
    /// The first host name, when there is one.
    pub sni: Option<String>,
    /// Every name in server_name (there should be at most one).
    pub sni_names: Vec<String>,
    pub sni_form: SniForm,
    pub alpn: Vec<String>,
    /// supported_versions, in wire order (GREASE included).
    pub supported_versions: Vec<u16>,
    pub supported_groups: Vec<Named>,
    pub key_share_groups: Vec<Named>,
    pub signature_algorithms: Vec<Named>,
    pub ec_point_formats: Vec<u8>,
    /// max_fragment_length code (1 = 512 … 4 = 4096), when offered.
    pub max_fragment_length: Option<u8>,
    /// True when the session_ticket extension is present.
    pub session_ticket: bool,
    /// GREASE values seen anywhere in the hello (suites, extensions, groups, versions).
    pub grease: Vec<u16>,
    /// JA4 sorts the extensions, so it does not depend on their order.
    pub ja4: String,
}

impl ClientOffer {
    /// The highest version offered: the best non-GREASE supported_versions entry, else the
    /// legacy version.
    pub fn highest_version(&self) -> u16 {
        self.supported_versions
            .iter()
            .copied()
            .filter(|v| !crate::tls::names::is_grease(*v))
            .max()
            .unwrap_or(self.legacy_version)
    }

    /// Every version the device offers (supported_versions, else the legacy version and below
    /// down to TLS 1.0 as a 1.2-era client would accept).
    pub fn offered_versions(&self) -> Vec<u16> {
        let listed: Vec<u16> = self
            .supported_versions
            .iter()
            .copied()
            .filter(|v| !crate::tls::names::is_grease(*v))
            .collect();
        if !listed.is_empty() {
            return listed;
        }
        (0x0301..=self.legacy_version.max(0x0301)).rev().collect()
    }
}

/// A ServerHello: the connection's own random, and the endpoint's choice.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServerHello {
    pub random: Random,
    /// Shared with every connection that was answered the same.
    #[serde(flatten)]
    pub choice: Arc<ServerChoice>,
}

impl Deref for ServerHello {
    type Target = ServerChoice;

    fn deref(&self) -> &ServerChoice {
        &self.choice
    }
}

/// Everything in a ServerHello but its random and session id bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ServerChoice {
    pub legacy_version: u16,
    /// The version in force: supported_versions when present (TLS 1.3), else legacy_version.
    pub version: u16,
    pub cipher_suite: Named,
    pub compression_method: u8,
    pub extensions: Vec<Extension>,
    pub alpn: Option<String>,
    /// The key_share group the server chose (TLS 1.3), or the group a HelloRetryRequest asks for.
    pub key_share_group: Option<Named>,
    /// True when this is a HelloRetryRequest (recognised by its fixed random).
    pub hello_retry_request: bool,
    pub ja3s: String,
    pub ja3s_hash: String,
}
