//! ClientHello and ServerHello as the trace reports them.

use std::borrow::Cow;

use serde::Serialize;

/// A TLS extension as it appeared on the wire.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Extension {
    pub id: u16,
    /// `server_name`, `application_layer_protocol_negotiation`, … or `unknown`; `GREASE` for
    /// RFC 8701 values.
    pub name: &'static str,
    pub len: u16,
}

/// A numbered protocol value that is named when it is shown, for cipher suites, groups and
/// signature schemes. Four bytes: a hello lists dozens of them, and a connection's trace keeps
/// its hellos for the connection's life (with the name beside each value, 32 bytes each, they
/// were a tenth of what an idle connection held after its handshake). It serialises as
/// `{"id": …, "name": …}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Named {
    pub id: u16,
    pub registry: Registry,
}

/// The IANA registry a [`Named`] value is from, which says how it is named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClientHello {
    /// legacy_version from the message body, e.g. 0x0303.
    pub legacy_version: u16,
    /// Version of the record that carried the hello.
    pub record_version: u16,
    /// 32 bytes, hex. Matches the key log's client random.
    pub random: String,
    pub session_id_len: u8,
    /// Every offered suite, GREASE included, in wire order.
    pub cipher_suites: Vec<Named>,
    pub compression_methods: Vec<u8>,
    /// Every extension in wire order.
    pub extensions: Vec<Extension>,
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
    pub ja3: String,
    pub ja3_hash: String,
    pub ja4: String,
}

impl ClientHello {
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

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServerHello {
    pub legacy_version: u16,
    /// The version in force: supported_versions when present (TLS 1.3), else legacy_version.
    pub version: u16,
    pub random: String,
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
