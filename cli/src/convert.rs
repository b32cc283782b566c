//! Arguments into the libraries' configurations: one `From` per command, field for field.

use iotscope_decoder::policy::{Action, Request};
use iotscope_proxy::ca;
use iotscope_proxy::cert_check::CertCheckConfig;
use iotscope_proxy::config::{MitmConfig, ProxyConfig};
use iotscope_proxy::probe::{self, ProbeConfig};
use iotscope_proxy::transparent::TransparentConfig;
use iotscope_report::policy::{PolicyCheckOptions, PolicyLintOptions};
use iotscope_report::{ReplayOptions, ReportOptions};

use crate::args::{
    CaCommand, CertCheckArgs, Colour, Format, KeyType, MitmArgs, MqttVersion, PolicyCheckArgs,
    PolicyLintArgs, Present, ProbeArgs, ProxyArgs, ReplayArgs, ReportArgs, TransparentArgs,
};

impl From<Format> for iotscope_report::Format {
    fn from(f: Format) -> Self {
        match f {
            Format::Text => iotscope_report::Format::Text,
            Format::Json => iotscope_report::Format::Json,
        }
    }
}

impl From<Colour> for iotscope_report::Colour {
    fn from(c: Colour) -> Self {
        match c {
            Colour::Auto => iotscope_report::Colour::Auto,
            Colour::Always => iotscope_report::Colour::Always,
            Colour::Never => iotscope_report::Colour::Never,
        }
    }
}

impl From<KeyType> for ca::KeyType {
    fn from(k: KeyType) -> Self {
        match k {
            KeyType::EcdsaP256 => ca::KeyType::EcdsaP256,
            KeyType::Rsa2048 => ca::KeyType::Rsa2048,
        }
    }
}

impl From<Present> for ca::mint::Present {
    fn from(p: Present) -> Self {
        match p {
            Present::Untrusted => ca::mint::Present::Untrusted,
            Present::WrongName => ca::mint::Present::WrongName,
            Present::Expired => ca::mint::Present::Expired,
        }
    }
}

impl From<MqttVersion> for probe::MqttVersion {
    fn from(v: MqttVersion) -> Self {
        match v {
            MqttVersion::V311 => probe::MqttVersion::V311,
            MqttVersion::V5 => probe::MqttVersion::V5,
        }
    }
}

impl From<ReportArgs> for ReportOptions {
    fn from(a: ReportArgs) -> Self {
        ReportOptions {
            endpoint: a.endpoint,
            custom_domain: a.custom_domain,
            format: a.format.into(),
            events: a.events,
            reveal_passwords: a.reveal_passwords,
            colour: a.colour.into(),
            // Read by main, which alone may fail on a file.
            policy: None,
            account: None,
        }
    }
}

impl From<ReplayArgs> for ReplayOptions {
    fn from(a: ReplayArgs) -> Self {
        ReplayOptions {
            files: a.files,
            keylog: a.keylog,
            port: a.port,
            quiet: a.quiet,
            report: a.report.into(),
        }
    }
}

impl From<TransparentArgs> for TransparentConfig {
    fn from(a: TransparentArgs) -> Self {
        TransparentConfig {
            transparent: a.transparent,
            allow: a.allow,
            allow_any: a.allow_any,
        }
    }
}

impl From<MitmArgs> for MitmConfig {
    fn from(a: MitmArgs) -> Self {
        MitmConfig {
            mitm: a.mitm,
            device_cert: a.device_cert,
            device_key: a.device_key,
            device_certs: a.device_certs,
            require_device_cert: a.require_device_cert,
            upstream_ca: a.upstream_ca,
            ca_dir: a.ca_dir,
            keylog: a.keylog,
            present: a.present.map(Into::into),
        }
    }
}

impl From<ProxyArgs> for ProxyConfig {
    fn from(a: ProxyArgs) -> Self {
        ProxyConfig {
            upstream: a.upstream,
            transparent: a.transparent.into(),
            listen: a.listen,
            record: a.record,
            max_connections: a.max_connections,
            handshake_timeout: a.handshake_timeout,
            idle_timeout: a.idle_timeout,
            connect_timeout: a.connect_timeout,
            grace: a.grace,
            mitm: a.mitm.into(),
            report: a.report.into(),
        }
    }
}

impl From<ProbeArgs> for ProbeConfig {
    fn from(a: ProbeArgs) -> Self {
        ProbeConfig {
            endpoint: a.endpoint,
            port: a.port,
            cert: a.cert,
            key: a.key,
            ca: a.ca,
            alpn: a.alpn,
            connect: a.connect,
            client_id: a.client_id,
            subscribe: a.subscribe,
            publish: a.publish,
            mqtt: a.mqtt.map(Into::into),
            format: a.format.into(),
            timeout: a.timeout,
            keylog: a.keylog,
            colour: a.colour.into(),
            policy: None,
            account: None,
        }
    }
}

impl From<CertCheckArgs> for CertCheckConfig {
    fn from(a: CertCheckArgs) -> Self {
        CertCheckConfig {
            files: a.files,
            key: a.key,
            ca: a.ca,
            custom_domain: a.custom_domain,
            format: a.format.into(),
            account: None,
        }
    }
}

impl From<CaCommand> for ca::command::CaCommand {
    fn from(c: CaCommand) -> Self {
        match c {
            CaCommand::Init {
                ca_dir,
                key_type,
                days,
            } => ca::command::CaCommand::Init {
                ca_dir,
                key_type: key_type.into(),
                days,
            },
            CaCommand::Show { ca_dir } => ca::command::CaCommand::Show { ca_dir },
            CaCommand::Export { ca_dir } => ca::command::CaCommand::Export { ca_dir },
        }
    }
}

impl From<PolicyCheckArgs> for PolicyCheckOptions {
    fn from(a: PolicyCheckArgs) -> Self {
        // clap keeps each flag's values apart, so the requests come grouped by action.
        let mut requests = Vec::new();
        if a.connect {
            requests.push(Request::new(Action::Connect, a.client_id.clone()));
        }
        let groups = [
            (Action::Publish, a.publish),
            (Action::Subscribe, a.subscribe),
            (Action::Receive, a.receive),
            (Action::RetainPublish, a.retain),
        ];
        for (action, names) in groups {
            requests.extend(names.into_iter().map(|n| Request::new(action, n)));
        }
        PolicyCheckOptions {
            policies: a.policies,
            client_id: a.client_id,
            thing: a.thing,
            thing_type: a.thing_type,
            thing_attrs: a.thing_attrs,
            cert: a.cert,
            source_ip: a.source_ip,
            region: a.region,
            account: a.account_id,
            endpoint: a.endpoint,
            requests,
            format: a.format.into(),
        }
    }
}

impl From<PolicyLintArgs> for PolicyLintOptions {
    fn from(a: PolicyLintArgs) -> Self {
        PolicyLintOptions {
            files: a.files,
            format: a.format.into(),
        }
    }
}
