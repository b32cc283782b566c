//! The catalogue of diagnoses: the one place that says what each code means.
//!
//! `iotscope explain`, `docs/diagnoses.md` and every finding's title and next steps come from
//! this table. The codes are a contract: scripts match on them, so a code is never renamed.
//!
//! Next steps are templates. `{endpoint}`, `{port}`, `{sni}`, `{cert_id}`, `{client_id}`,
//! `{topic}`, `{filter}`, `{region}` are filled with the connection's own values by
//! [`fill`]; a value the trace does not show stays as an upper-case placeholder.

use super::code::Code;
use super::section::{Section, Severity};

pub struct Entry {
    pub code: Code,
    pub section: Section,
    pub severity: Severity,
    pub title: &'static str,
    /// The cause in plain words.
    pub cause: &'static str,
    /// What tells this apart from the diagnoses that look like it.
    pub tell_apart: &'static str,
    /// Next steps, as templates.
    pub steps: &'static [&'static str],
}

const DESCRIBE_ENDPOINT: &str =
    "aws iot describe-endpoint --endpoint-type iot:Data-ATS   # the endpoint and the SNI to use";
const DESCRIBE_CERT: &str =
    "aws iot describe-certificate --certificate-id {cert_id}   # status must be ACTIVE";
const LIST_CERTS: &str = "aws iot list-certificates   # find the certificate and its status";
const S_CLIENT: &str = "openssl s_client -connect {endpoint}:{port} -servername {endpoint} -CAfile AmazonRootCA1.pem -cert device.pem.crt -key private.pem.key";
const UPDATE_CERT: &str =
    "aws iot update-certificate --certificate-id {cert_id} --new-status ACTIVE --region {region}";
const DESCRIBE_CERT_REGION: &str =
    "aws iot describe-certificate --certificate-id {cert_id} --region {region}";
const LOG_QUERY: &str = "aws logs filter-log-events --log-group-name AWSIotLogsV2 --filter-pattern '{ $.clientId = \"{client_id}\" }'";
const LOGS: &str = "In CloudWatch Logs (AWSIotLogsV2), look for entries with \"reason\": \"AUTHORIZATION_FAILURE\" for client {client_id}";

pub static CATALOGUE: &[Entry] = &[
    // ---------------------------------------------------------------- Connection
    Entry {
        code: Code::ConnTcpRefused,
        section: Section::Connection,
        severity: Severity::Error,
        title: "The endpoint refused the TCP connection",
        cause: "The device's SYN was answered with a reset: nothing listens on that address and port, or a firewall rejects it.",
        tell_apart: "No byte was exchanged. A reset after the device's first bytes is CONN.NOT_TLS or CONN.HANDSHAKE_ABORTED instead.",
        steps: &[
            "Check the host and port the device dials: AWS IoT Core takes MQTT on 8883, or on 443 with ALPN x-amzn-mqtt-ca.",
            DESCRIBE_ENDPOINT,
        ],
    },
    Entry {
        code: Code::ConnNotTls,
        section: Section::Connection,
        severity: Severity::Error,
        title: "The device sent plaintext to a TLS endpoint",
        cause: "The device's first bytes are not a TLS record (plain MQTT, HTTP or something else), so the endpoint, which expects a TLS ClientHello, drops the connection. AWS IoT Core accepts only TLS.",
        tell_apart: "The device's first bytes are classified as MQTT, HTTP or unknown instead of a TLS handshake record; the endpoint usually resets at once without sending a byte.",
        steps: &[
            "Turn TLS on in the device's MQTT client (CA file, certificate and key) and connect to port 8883.",
            S_CLIENT,
        ],
    },
    Entry {
        code: Code::ConnSniMissing,
        section: Section::Connection,
        severity: Severity::Warning,
        title: "The ClientHello has no server name (SNI)",
        cause: "The device did not send the server_name extension. AWS IoT Core accepts this on its default endpoint (it then picks the authentication type by port and ALPN), but custom domains, multi-account certificates, VPC endpoints and configured TLS policies need the SNI, and older documentation says connections without it are refused.",
        tell_apart: "The ClientHello carries no server_name extension at all (CONN.SNI_MISMATCH is an SNI with the wrong value).",
        steps: &[
            "Set the TLS host name in the device's TLS stack (for example mbedtls_ssl_set_hostname) to the endpoint address.",
            DESCRIBE_ENDPOINT,
        ],
    },
    Entry {
        code: Code::ConnSniMismatch,
        section: Section::Connection,
        severity: Severity::Error,
        title: "The SNI is not the endpoint's name",
        cause: "The server_name the device sent is not the expected endpoint: another name, an IP address literal (RFC 6066 allows host names only), or a name that is not an AWS IoT data endpoint. AWS IoT Core fails connections with an incorrect or invalid host name.",
        tell_apart: "The SNI is present but differs from --endpoint, is an IP literal, or does not end in .iot.REGION.amazonaws.com.",
        steps: &[
            "Make the device connect by the endpoint's name, not its IP address, and send that name as SNI.",
            DESCRIBE_ENDPOINT,
        ],
    },
    Entry {
        code: Code::ConnLegacyEndpoint,
        section: Section::Connection,
        severity: Severity::Error,
        title: "The device uses a legacy (non-ATS) endpoint",
        cause: "The endpoint name has no -ats suffix: it is the legacy iot:Data endpoint, signed by the retired VeriSign/Symantec CA. AWS IoT Core supports only iot:Data-ATS endpoints, whose certificates chain to Amazon Root CA 1 or 3.",
        tell_apart: "The SNI has the form PREFIX.iot.REGION.amazonaws.com without -ats.",
        steps: &[
            DESCRIBE_ENDPOINT,
            "Trust Amazon Root CA 1 (RSA) and Amazon Root CA 3 (ECC) on the device, not the VeriSign root.",
        ],
    },
    Entry {
        code: Code::ConnAlpnRequired,
        section: Section::Connection,
        severity: Severity::Error,
        title: "Port 443 without the ALPN AWS IoT needs",
        cause: "On port 443 AWS IoT Core chooses the protocol by ALPN: MQTT with a client certificate needs x-amzn-mqtt-ca, HTTPS with a client certificate needs x-amzn-http-ca. Without it the mutual-TLS connection cannot be set up.",
        tell_apart: "The endpoint port is 443 and the ClientHello's ALPN list lacks x-amzn-mqtt-ca and x-amzn-http-ca.",
        steps: &[
            "Add ALPN x-amzn-mqtt-ca to the device's TLS configuration, or connect to port 8883 instead.",
            "openssl s_client -connect {endpoint}:443 -servername {endpoint} -alpn x-amzn-mqtt-ca -CAfile AmazonRootCA1.pem -cert device.pem.crt -key private.pem.key",
        ],
    },
    Entry {
        code: Code::ConnWrongProtocol,
        section: Section::Connection,
        severity: Severity::Error,
        title: "The application protocol does not fit the port",
        cause: "AWS IoT Core's port 8443 speaks HTTPS (publish only), not MQTT; port 8883 speaks MQTT, not HTTP. The device sends the other protocol, so the endpoint cannot understand it.",
        tell_apart: "The bytes inside TLS (visible with a key log or in MITM mode) are MQTT on port 8443, or HTTP on an MQTT port.",
        steps: &[
            "For MQTT, connect to {endpoint}:8883, or to port 443 with ALPN x-amzn-mqtt-ca.",
            "For HTTPS publishing, POST to https://{endpoint}:8443/topics/TOPIC?qos=1.",
        ],
    },
    Entry {
        code: Code::ConnProtocolVersion,
        section: Section::Connection,
        severity: Severity::Error,
        title: "No TLS version in common",
        cause: "AWS IoT Core accepts TLS 1.2 and TLS 1.3 only. The device offers neither, or one side sent a protocol_version alert.",
        tell_apart: "The ClientHello's highest version is below TLS 1.2, or a protocol_version alert ends the handshake.",
        steps: &[
            "Enable TLS 1.2 (or 1.3) in the device's TLS stack.",
            "openssl s_client -connect {endpoint}:{port} -tls1_2 -servername {endpoint}   # shows what the endpoint accepts",
        ],
    },
    Entry {
        code: Code::ConnNoSharedCipher,
        section: Section::Connection,
        severity: Severity::Error,
        title: "No cipher suite in common",
        cause: "The endpoint found no cipher suite it accepts among the device's offer, or the device offers none of the suites of AWS IoT Core's TLS policies.",
        tell_apart: "A handshake_failure alert right after the ClientHello (before any ServerHello); or the offered list lacks every suite of the default policy IoTSecurityPolicy_TLS13_1_2_2022_10.",
        steps: &[
            "Offer ECDHE-ECDSA-AES128-GCM-SHA256 or ECDHE-RSA-AES128-GCM-SHA256 (TLS 1.2), or TLS_AES_128_GCM_SHA256 (TLS 1.3).",
        ],
    },
    Entry {
        code: Code::ConnHandshakeAborted,
        section: Section::Connection,
        severity: Severity::Error,
        title: "The endpoint closed the connection during the handshake without saying why",
        cause: "The endpoint closed or reset the connection after the device's ClientHello without a TLS alert. It does not speak TLS on that port, or it (or a middlebox) rejected something in the hello, such as the server name.",
        tell_apart: "No alert and no ServerHello came back; the close came from the endpoint.",
        steps: &[S_CLIENT, DESCRIBE_ENDPOINT],
    },
    Entry {
        code: Code::ConnNoAnswer,
        section: Section::Connection,
        severity: Severity::Error,
        title: "The endpoint never answered",
        cause: "The device sent its first bytes and nothing came back before the connection ended or the capture stopped: a firewall that drops packets, a wrong address, or an endpoint that hangs.",
        tell_apart: "No byte at all from the endpoint and no close from it, on a connection whose opening was seen, with no bytes of the endpoint's lost and at least a second seen after the device's first bytes. When any of that is missing, or the device's own later TLS messages show that a ServerHello reached it, the finding is CONN.TRUNCATED instead.",
        steps: &[
            "Check that outbound TCP to {endpoint} port {port} is allowed; if 8883 is blocked, use 443 with ALPN x-amzn-mqtt-ca.",
            S_CLIENT,
        ],
    },
    Entry {
        code: Code::ConnDeviceStalled,
        section: Section::Connection,
        severity: Severity::Error,
        title: "The device stopped sending in the middle of its ClientHello",
        cause: "The device began its first TLS record (the ClientHello) and stopped before the length its header declares: the endpoint cannot answer a hello it has not received whole, so its silence is no fault of its own. A device stack that stalls there has run out of memory or buffer space for the hello, is blocked on something else (a watchdog, a modem, a slow serial link to the network module), or sends in pieces too slowly; a device that does this on purpose is a slow-sending (slowloris) client. Behind iotscope the connection ends at --handshake-timeout; AWS IoT Core, too, closes connections that do not complete the TLS handshake in time.",
        tell_apart: "The device's TLS record is cut short (its header says more bytes were coming) and nothing followed from the device; no byte came from the endpoint. A complete ClientHello with no answer is CONN.NO_ANSWER; a capture that ends less than a second after the device's last byte is CONN.TRUNCATED.",
        steps: &[
            "Look at the device's TLS stack and its network path while it sends the ClientHello: buffer sizes (mbedTLS MBEDTLS_SSL_OUT_CONTENT_LEN), heap left, the modem's or network module's send path, and the device's logs at that moment.",
            "Compare with a complete hello from the same network: openssl s_client -connect {endpoint}:{port} -servername {endpoint}",
        ],
    },
    Entry {
        code: Code::ConnEndpointClosed,
        section: Section::Connection,
        severity: Severity::Error,
        title: "The endpoint closed a working session",
        cause: "The endpoint closed (or reset) a connection on which the MQTT session had been accepted, while the device was still using it: no DISCONNECT from the device came first, and nothing the endpoint sent says why. The endpoint restarted or failed over, a load balancer or firewall dropped an idle or long-lived flow, or AWS IoT Core ended the session: another connection with the same client id (session takeover), a keep-alive that ran out, a policy or certificate change, or a limit exceeded. What the device had sent and not yet had answered (a QoS 1 PUBLISH without its PUBACK) is lost unless the device sends it again.",
        tell_apart: "The endpoint's FIN or RST comes first, after the session was accepted (CONNACK 0, or application data both ways when encrypted), with no DISCONNECT from the device before it and no MQTT 5 DISCONNECT from the endpoint giving a reason (MQTT.SESSION_TAKEN_OVER). A close right after a PUBLISH or SUBSCRIBE reads as a refusal (AUTHZ.*) instead; a device that closed first, or sent DISCONNECT, ended the session itself; a capture without the endpoint's close shows nothing here.",
        steps: &[
            "In CloudWatch Logs (AWSIotLogsV2), look for a Disconnect entry for client {client_id} at that time: its disconnectReason (DUPLICATE_CLIENTID, MQTT_KEEP_ALIVE_TIMEOUT, CONNECTION_LOST, SERVER_INITIATED_DISCONNECT, AUTHORIZATION_FAILURE, THROTTLED …) says why.",
            "Check whether another device or process connects with the same client id {client_id}: each new connection ends the older one.",
            "With your own broker, read its log at that moment (a restart, a crash, a client taken over) and check load balancers or firewalls on the path for idle or session timeouts.",
            "Make the device reconnect with back-off, and resend QoS 1 messages that were not acknowledged (a persistent session, clean start false, keeps its subscriptions).",
        ],
    },
    Entry {
        code: Code::ConnUpstreamUnreachable,
        section: Section::Connection,
        severity: Severity::Error,
        title: "iotscope could not reach the endpoint",
        cause: "iotscope's own connection to the endpoint (the proxy's upstream, or the probe's) could not resolve the endpoint's name, connect to it, or keep the connection, or the proxy refused to dial it (--transparent outside --allow): the problem may lie on this path rather than in the device.",
        tell_apart: "The failure is on iotscope's own connection to the endpoint, reported by iotscope, not seen in the device's traffic.",
        steps: &[
            "Check the endpoint name and port (proxy: --upstream; with --transparent: the --allow list and the redirect rules, docs/gateway.md; probe: --endpoint and --port), DNS, and outbound access from the machine iotscope runs on.",
            DESCRIBE_ENDPOINT,
        ],
    },
    Entry {
        code: Code::ConnHttpProxyRefused,
        section: Section::Connection,
        severity: Severity::Error,
        title: "The HTTP proxy refused to open a tunnel to the endpoint",
        cause: "The device goes through an HTTP proxy: it asks the proxy for a tunnel with CONNECT host:port, and TLS can only start once the proxy answers with a 2xx status. This proxy answered otherwise, so no byte reached the endpoint. 407 means the proxy wants credentials (Proxy-Authorization) that the device did not send or that the proxy did not accept; 403 means the proxy's rules do not allow that host or that port (many proxies allow CONNECT to port 443 only); 500, 502, 503 or 504 mean the proxy itself could not reach the host (a name it cannot resolve, a port that refuses, a firewall behind the proxy): proxies differ in the code they use for it (tinyproxy answers 500, nginx and Apache 502, Squid 503).",
        tell_apart: "A status line other than 2xx comes back where the endpoint's ServerHello would, and nothing from the endpoint follows it (a device that sent its ClientHello without waiting gets no answer to it). When the tunnel opens (2xx) and the endpoint then refuses the TLS or MQTT connection, the usual findings (CONN.HANDSHAKE_ABORTED, AUTH.*) apply instead.",
        steps: &[
            "407: give the device the proxy's credentials (Proxy-Authorization, in the scheme the proxy's Proxy-Authenticate header asks for), or have the proxy exempt the device.",
            "403: ask the proxy's administrators to allow CONNECT to {endpoint} on port 8883 (or 443 with ALPN x-amzn-mqtt-ca, which proxies allow more often): tinyproxy's ConnectPort and Allow, Squid's SSL_ports and http_access.",
            "500, 502, 503 or 504: check from the proxy's network that {endpoint} resolves and that its port answers; the host the device asks for must be the account's data endpoint. aws iot describe-endpoint --endpoint-type iot:Data-ATS",
            "openssl s_client -proxy PROXY:PORT -connect {endpoint}:8883 -servername {endpoint}   # the same tunnel from a machine behind the same proxy",
        ],
    },
    Entry {
        code: Code::ConnHttpProxyTarget,
        section: Section::Connection,
        severity: Severity::Warning,
        title: "The proxy tunnel goes to another host than the one TLS names",
        cause: "The device asked the HTTP proxy for a tunnel to one host, then named another host in its ClientHello (SNI), or the tunnel's host is not the expected endpoint. The bytes reach the tunnel's host, which answers with its own certificate and, for AWS IoT Core, its own account and domain configuration: a stale endpoint in the device's proxy settings, or a wrong server name, makes the connection fail or land in the wrong place.",
        tell_apart: "The host in CONNECT host:port differs from the SNI (or from --endpoint when the ClientHello has no SNI). A tunnel to an IP address is not compared, since the wire does not show which name it stands for; CONN.SNI_MISMATCH is about the SNI itself.",
        steps: &[
            "Make the device's CONNECT target and its TLS server name the same data endpoint, {endpoint}: aws iot describe-endpoint --endpoint-type iot:Data-ATS",
            "openssl s_client -proxy PROXY:PORT -connect {endpoint}:8883 -servername {endpoint}   # the tunnel and the name the device should use",
        ],
    },
    Entry {
        code: Code::ConnTruncated,
        section: Section::Connection,
        severity: Severity::Info,
        title: "Part of the connection was not seen",
        cause: "The capture started after the connection began, missed bytes (gaps), or stopped too soon to show the endpoint's answer, so some findings may be missing. When the endpoint seems silent, this says why that silence cannot be trusted: its bytes were lost, the device's own later messages (a TLS 1.2 Certificate or ClientKeyExchange) prove a ServerHello arrived, or too little time was seen.",
        tell_apart: "Gap events, no TCP handshake at the start, device messages that can only follow an answer, or less than a second seen after the device's first bytes.",
        steps: &[
            "Capture from before the device connects, on the device's own interface, with a large enough snap length (tcpdump -s 0).",
            "Keep the capture running until the device gives up or is connected, so the endpoint's answer (or its absence) is in it.",
        ],
    },
    Entry {
        code: Code::TlsNotDecrypted,
        section: Section::Connection,
        severity: Severity::Info,
        title: "Records stayed encrypted although keys were given",
        cause: "The key log had no secrets for this connection (another capture's, or logged by the other side of a proxy), the cipher suite is one iotscope does not decrypt, or a record did not authenticate under the logged keys (a wrong or partial key log). What follows is decoded as far as the wire shows it.",
        tell_apart: "The reason names the client random, the missing key-log label, or the record that failed.",
        steps: &["Log keys on the device side with SSLKEYLOGFILE (or use iotscope proxy --mitm --keylog FILE), and make sure the key log's CLIENT_RANDOM matches the connection's ClientHello random."],
    },
    // ------------------------------------------------------------ Authentication
    Entry {
        code: Code::AuthServerCertUntrusted,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The device does not trust the endpoint's certificate",
        cause: "The device refused the endpoint's certificate chain: its trust store lacks the root the endpoint's chain leads to (for an ATS endpoint, Amazon Root CA 1 for RSA suites or Amazon Root CA 3 for ECDSA suites, cross-signed by Starfield), or it expects another endpoint type.",
        tell_apart: "The device sends unknown_ca, bad_certificate or certificate_unknown after the endpoint's certificate, or closes without an alert right after the endpoint's flight. CONN.* problems end the handshake before the endpoint's certificate; AUTH.SERVER_NAME_MISMATCH is a name problem, not a trust problem.",
        steps: &[
            "Install Amazon Root CA 1 (and Amazon Root CA 3 for ECC) in the device's trust store: https://www.amazontrust.com/repository/AmazonRootCA1.pem",
            DESCRIBE_ENDPOINT,
            S_CLIENT,
        ],
    },
    Entry {
        code: Code::AuthServerNameMismatch,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The endpoint's certificate does not cover the name the device used",
        cause: "The device checks that the endpoint's certificate names the host it dialled; the certificate covers the endpoint's DNS name, but the device used another name or an IP address.",
        tell_apart: "The certificate's names do not cover the SNI (visible in TLS 1.2 or with keys), or the device dialled an IP address and then refused the endpoint's flight.",
        steps: &[
            "Connect by the endpoint's DNS name, not by IP address, and keep host name verification on.",
            DESCRIBE_ENDPOINT,
        ],
    },
    Entry {
        code: Code::AuthClientCertMissing,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The device sent no client certificate",
        cause: "The endpoint asked for a client certificate and the device sent an empty Certificate message. AWS IoT Core authenticates devices by X.509 certificate on 8883 and on 443 with x-amzn-mqtt-ca.",
        tell_apart: "A CertificateRequest from the endpoint followed by an empty Certificate from the device (visible in TLS 1.2, or in TLS 1.3 with keys); the endpoint then sends handshake_failure or certificate_required.",
        steps: &[
            "Configure the device's certificate and private key in its TLS stack (for mosquitto_pub: --cert and --key).",
            LIST_CERTS,
        ],
    },
    Entry {
        code: Code::AuthClientCertRejected,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The endpoint refused the device's certificate",
        cause: "The endpoint did not accept the device's certificate: it is not registered in the account and region, not ACTIVE (inactive or revoked), issued by a CA the endpoint does not know, or (in TLS 1.3, where the wire hides it) not sent at all.",
        tell_apart: "An alert from the endpoint after the device's certificate (TLS 1.2), or, in TLS 1.3 without keys, the handshake finished and the endpoint closed before any MQTT answer — which AUTHZ.CONNECT_DENIED can also look like.",
        steps: &[DESCRIBE_CERT, LIST_CERTS, S_CLIENT],
    },
    Entry {
        code: Code::AuthClientCertExpired,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The device's certificate is expired or not yet valid",
        cause: "The device's certificate was not valid at the time of the connection, or the endpoint said certificate_expired.",
        tell_apart: "The certificate's validity (visible in TLS 1.2 or with keys) does not include the connection's time, or a certificate_expired alert.",
        steps: &[
            DESCRIBE_CERT,
            "Issue a new certificate (aws iot create-keys-and-certificate --set-as-active), attach the thing's policy, and install it on the device.",
            "Check the device's clock: a device without a real-time clock may believe it is 1970.",
        ],
    },
    // ------------------------------------------------------------- Authorization
    Entry {
        code: Code::AuthzConnectDenied,
        section: Section::Authorization,
        severity: Severity::Error,
        title: "The endpoint refused the MQTT CONNECT",
        cause: "The policy attached to the certificate does not allow iot:Connect for this client id (MQTT 5: CONNACK 0x87; MQTT 3.1.1: CONNACK 5, or AWS IoT closes the connection without a CONNACK).",
        tell_apart: "A CONNACK with code 5 (3.1.1) or 0x87 (5), or a close right after CONNECT with no CONNACK. Without keys in TLS 1.3 this looks like AUTH.CLIENT_CERT_REJECTED.",
        steps: &[
            "Allow iot:Connect on arn:aws:iot:{region}:{account}:client/{client_id} in the policy attached to certificate {cert_id}.",
            "aws iot list-principal-policies --principal arn:aws:iot:{region}:{account}:cert/{cert_id}",
            LOGS,
        ],
    },
    Entry {
        code: Code::AuthzPublishDenied,
        section: Section::Authorization,
        severity: Severity::Error,
        title: "The endpoint refused a PUBLISH",
        cause: "The policy does not allow iot:Publish on this topic. All publish and subscribe operations are denied by default. MQTT 5 answers PUBACK 0x87; over MQTT 3.1.1 AWS IoT closes the connection.",
        tell_apart: "PUBACK 0x87, or (MQTT 3.1.1) the endpoint closing right after a PUBLISH without acknowledging it.",
        steps: &[
            "Allow iot:Publish on arn:aws:iot:{region}:{account}:topic/{topic} in the policy attached to certificate {cert_id}.",
            LOGS,
        ],
    },
    Entry {
        code: Code::AuthzSubscribeDenied,
        section: Section::Authorization,
        severity: Severity::Error,
        title: "The endpoint refused a SUBSCRIBE",
        cause: "The policy does not allow iot:Subscribe on this topic filter (the resource is topicfilter/, not topic/). MQTT 5 answers SUBACK 0x87; MQTT 3.1.1 answers 0x80 or the connection is closed.",
        tell_apart: "SUBACK 0x80 or 0x87 for the filter, or the endpoint closing right after a SUBSCRIBE.",
        steps: &[
            "Allow iot:Subscribe on arn:aws:iot:{region}:{account}:topicfilter/{filter} (and iot:Receive on arn:aws:iot:{region}:{account}:topic/{filter}) in the policy attached to certificate {cert_id}.",
            LOGS,
        ],
    },
    Entry {
        code: Code::AuthzPolicyNotInForce,
        section: Section::Authorization,
        severity: Severity::Warning,
        title: "The endpoint answered otherwise than the policies given (--policy)",
        cause: "The endpoint refused a request the policies given allow, or allowed one they deny: the policies AWS IoT Core evaluated are not these. Another policy is attached to the certificate (an explicit Deny in any attached policy wins), the policy was changed since, the resources name another region or account, or the thing is not attached to the certificate (the iot:Connection.Thing.* variables then have no value).",
        tell_apart: "Only with --policy: iotscope's own evaluation of the request (the deciding statement is cited) against the endpoint's answer on the wire (CONNACK, PUBACK, SUBACK, a close, a delivered message). A broker that is not AWS IoT Core answers by its own rules, never by the policy.",
        steps: &[
            "aws iot list-attached-policies --target arn:aws:iot:{region}:{account}:cert/{cert_id}   # the policies in force on the certificate",
            "aws iot get-effective-policies --principal arn:aws:iot:{region}:{account}:cert/{cert_id} --thing-name THING_NAME > effective.json   # then give it to --policy",
            "aws iot list-thing-principals --thing-name THING_NAME   # is the certificate attached to the thing?",
        ],
    },
    Entry {
        code: Code::AuthzPolicyWouldDecide,
        section: Section::Authorization,
        severity: Severity::Warning,
        title: "The policies given would deny a request whose answer is not seen",
        cause: "The device made requests whose answer the capture does not show (a QoS 0 PUBLISH, a connection cut before the answer), and the policies given (--policy) deny at least one of them: AWS IoT Core refuses it if these policies are the ones in force. Requests they allow are listed beside it; when they allow them all, nothing is said.",
        tell_apart: "Only with --policy, and only for requests without an answer on the wire; a refused request is AUTHZ.CONNECT_DENIED, AUTHZ.PUBLISH_DENIED or AUTHZ.SUBSCRIBE_DENIED with the deciding statement cited.",
        steps: &[
            "Add the suggested statement to the policy, or narrow the deny statement cited, then check again: iotscope policy check --policy FILE --client-id {client_id} --publish {topic}",
            "aws iot list-attached-policies --target arn:aws:iot:{region}:{account}:cert/{cert_id}",
        ],
    },
    Entry {
        code: Code::AuthzPolicyNotChecked,
        section: Section::Authorization,
        severity: Severity::Info,
        title: "The MQTT packets could not be read, so no request was checked against the policies",
        cause: "Policies were given (--policy), but the MQTT inside TLS stayed encrypted: neither the client id nor the topics are known, and a policy decides on them. With --thing, iotscope says what the policies decide for iot:Connect if the client id is the thing name (as AWS recommends). Said once per run, not per connection.",
        tell_apart: "TLS application data without a key log (or TLS 1.3 without keys); with keys or in MITM mode each request is checked.",
        steps: &[
            "Give the TLS secrets: replay --keylog FILE (SSLKEYLOGFILE from the device or from proxy --mitm --keylog), or run the proxy with --mitm.",
            "Check the requests by hand: iotscope policy check --policy FILE --client-id CLIENT_ID --connect --publish TOPIC",
        ],
    },
    // -------------------------------------------------------------------- MQTT
    Entry {
        code: Code::MqttConnectRefused,
        section: Section::Connection,
        severity: Severity::Error,
        title: "The endpoint refused the MQTT CONNECT",
        cause: "The CONNACK refuses the connection for a reason other than authorization: unacceptable protocol version, identifier rejected, server unavailable, bad user name or password, or an MQTT 5 reason.",
        tell_apart: "The CONNACK's code names the reason; codes 5 (3.1.1) and 0x87 (5) are AUTHZ.CONNECT_DENIED instead.",
        steps: &[
            "Fix what the code names: the MQTT version (AWS IoT Core speaks 3.1.1 and 5), the client id ({client_id}), or the credentials.",
        ],
    },
    Entry {
        code: Code::MqttMalformed,
        section: Section::Connection,
        severity: Severity::Error,
        title: "A malformed MQTT control packet",
        cause: "A control packet breaks the MQTT specification (flag bits, lengths, strings, properties). Brokers close the connection on a malformed packet.",
        tell_apart: "The decoder names the packet, the byte offset and the rule it breaks.",
        steps: &["Fix the MQTT client library or upgrade it; compare with mosquitto_pub -d against the same endpoint."],
    },
    Entry {
        code: Code::MqttAwsLimit,
        section: Section::Connection,
        severity: Severity::Warning,
        title: "A packet outside AWS IoT Core's limits",
        cause: "AWS IoT Core adjusts or rejects what lies outside its limits: keep-alive 30–1200 s, client id up to 128 bytes, topic up to 256 bytes and 7 slashes, payload up to 128 KB, at most 8 filters per SUBSCRIBE, QoS 0 and 1 only (QoS 2 gets no PUBACK or SUBACK), a persistent session kept at most 7 days (1 h unless the account's limit was raised; an MQTT 5 CONNACK says what was granted).",
        tell_apart: "The values are in the packet; another broker may accept them.",
        steps: &["Keep within the limits listed under 'AWS IoT Core endpoints and quotas' in the AWS General Reference."],
    },
    Entry {
        code: Code::MqttSessionTakenOver,
        section: Section::Connection,
        severity: Severity::Error,
        title: "Another connection took over this client id",
        cause: "AWS IoT Core allows one connection per client id: a new CONNECT with the same id disconnects the older one (DUPLICATE_CLIENTID; MQTT 5 DISCONNECT 0x8E). Two devices sharing an id, or a reconnect racing the old session, knock each other off in a loop.",
        tell_apart: "DISCONNECT 0x8E from the endpoint, or two connections with the same client id overlapping in time.",
        steps: &["Give every device a unique client id (the thing name is a good choice) and make sure an old connection is closed before reconnecting."],
    },
    Entry {
        code: Code::MqttServerDisconnect,
        section: Section::Connection,
        severity: Severity::Error,
        title: "The endpoint ended the session and said why",
        cause: "Over MQTT 5, AWS IoT Core sends a DISCONNECT with a reason code before it closes a session it ends: 0x8D keep-alive timeout (no packet from the device within 1.5 times its keep-alive), 0x87 not authorized, 0x97 quota exceeded (throttled), 0x95 packet too large, 0x90 topic name invalid, 0x9B QoS not supported, 0x8B server shutting down. The reason code is the cause.",
        tell_apart: "A DISCONNECT from the endpoint with a reason code of 0x80 or more other than 0x8E (that one is MQTT.SESSION_TAKEN_OVER), when no other rule names the cause; the Disconnect entry in AWSIotLogsV2 gives the same reason as its disconnectReason.",
        steps: &[
            "Act on the reason the DISCONNECT names: for 0x8D make the device send PINGREQ (or any packet) within its keep-alive; for 0x97 slow the device down (AWS IoT Core's per-connection limits); for 0x87 check the policy attached to certificate {cert_id} for client {client_id}.",
            "In CloudWatch Logs (AWSIotLogsV2), the Disconnect entry for client {client_id} at that time says the same reason in its disconnectReason.",
        ],
    },
    // ----------------------------------------------------- Security and identity
    Entry {
        code: Code::SecCustomDomainTooManyNames,
        section: Section::SecurityIdentity,
        severity: Severity::Error,
        title: "The custom domain's server certificate has more than four names",
        cause: "A server certificate for an AWS IoT custom domain configuration may carry at most four domain names.",
        tell_apart: "Count of the certificate's distinct DNS names (SAN and CN) above four.",
        steps: &["Issue the custom domain's certificate in ACM with at most four domain names, then update the domain configuration."],
    },
    Entry {
        code: Code::SecCustomDomainCert,
        section: Section::SecurityIdentity,
        severity: Severity::Error,
        title: "The custom domain's server certificate breaks a rule of AWS IoT",
        cause: "A server certificate for an AWS IoT custom domain configuration must carry serverAuth in its extended key usage, and its chain may be at most five certificates deep and at most 16 KB in all.",
        tell_apart: "The certificate file shows it: the extended key usage list, the number of certificates in the chain and their total DER size. Checked by `iotscope cert check --custom-domain`.",
        steps: &["Issue the custom domain's certificate in ACM (a public certificate has serverAuth and a short chain), then update the domain configuration with aws iot update-domain-configuration."],
    },
    // --------------------------------------------------------------- Certificate files
    Entry {
        code: Code::CertKeyNotAccepted,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The certificate's key is of a type or size AWS IoT does not accept",
        cause: "AWS IoT Core accepts device certificates with RSA keys of 2048 bits or more, or ECDSA keys on the curves P-256, P-384 or P-521. A shorter RSA key or another curve is refused at registration or in the handshake.",
        tell_apart: "The key type, size and curve in the certificate; a rejected certificate with an accepted key points to AUTH.CLIENT_CERT_REJECTED instead.",
        steps: &["Make a new key (openssl ecparam -name prime256v1 -genkey, or openssl genrsa 2048), have the certificate issued again for it, and register the new certificate."],
    },
    Entry {
        code: Code::CertChainOrder,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The chain's certificates are not each issued by the next",
        cause: "A chain file must list the leaf first and then each issuer in turn. A chain out of order, or with a certificate from another chain, is sent as it is and the peer cannot build a path.",
        tell_apart: "For each certificate the issuer name and signature are checked against the next one in the file; the finding names the pair that does not link.",
        steps: &["Put the certificates in order (leaf, then its issuer, up to the root or the last intermediate) and drop the ones that belong elsewhere; openssl verify -CAfile ROOT -untrusted INTERMEDIATES LEAF shows the path."],
    },
    Entry {
        code: Code::CertKeyMismatch,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The private key does not belong to the certificate",
        cause: "The device's private key is not the one whose public key the certificate holds: the device cannot prove it owns the certificate, and the handshake fails at CertificateVerify.",
        tell_apart: "The public key derived from the key file differs from the certificate's SubjectPublicKeyInfo. A key file that cannot be read is reported as bad input instead.",
        steps: &[
            "Find the key the certificate was made for (openssl x509 -noout -pubkey -in CERT and openssl pkey -pubout -in KEY must print the same key).",
            "Or make a new key and certificate: aws iot create-keys-and-certificate --set-as-active",
        ],
    },
    Entry {
        code: Code::CertCaFile,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The CA file does not hold the certificate's issuer, or is not a CA",
        cause: "The file given with --ca should hold CA certificates (basic constraints CA:TRUE), one of which issued the certificate checked. Otherwise the peer that trusts this CA will not accept the certificate.",
        tell_apart: "The CA file's certificates are read and each is tried as the issuer (name and signature) of the first certificate of each checked file.",
        steps: &["Use the CA that signed the certificate (for AWS IoT device certificates registered with a CA: aws iot describe-ca-certificate --certificate-id CA_ID), or the Amazon root for the endpoint's certificate."],
    },
    // ------------------------------------------------------ Interception (proxy --mitm)
    Entry {
        code: Code::MitmCaNotTrusted,
        section: Section::Connection,
        severity: Severity::Error,
        title: "The device does not trust iotscope's CA",
        cause: "In MITM mode iotscope shows the device a certificate issued by its own CA. A device that validates its endpoint (as it should) refuses it until that CA is in its trust store, so nothing reaches the endpoint.",
        tell_apart: "The device ends its handshake with iotscope (unknown_ca, bad_certificate, or a close) right after iotscope's certificate; the endpoint leg may have worked. Without --mitm the same refusal of the real endpoint is AUTH.SERVER_CERT_UNTRUSTED.",
        steps: &[
            "Add iotscope's CA to the device's trust store for the test: iotscope ca export > iotscope-ca.pem (for mosquitto_pub: --cafile iotscope-ca.pem).",
            "Or diagnose without interception: iotscope proxy without --mitm shows the handshake and its failures, not the MQTT inside.",
        ],
    },
    Entry {
        code: Code::MitmTlsUnsupported,
        section: Section::Connection,
        severity: Severity::Error,
        title: "The device offers no TLS version or cipher suite iotscope can intercept",
        cause: "iotscope's MITM mode terminates TLS with rustls, which speaks TLS 1.2 and 1.3 with modern AEAD cipher suites only. A device that offers only TLS 1.0/1.1, CBC or RSA key-exchange suites cannot be intercepted (AWS IoT Core itself requires TLS 1.2 or 1.3).",
        tell_apart: "The failure is between the device and iotscope, before any byte goes upstream; the device's offered versions and suites are listed in the finding.",
        steps: &[
            "Run iotscope proxy without --mitm: passthrough shows the device's handshake with the endpoint as it is, whatever it offers.",
            "Check the device's TLS configuration against the endpoint's security policy (TLS 1.2 or 1.3, ECDHE with AES-GCM).",
        ],
    },
    Entry {
        code: Code::AuthDeviceCertDiffers,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The device's certificate is not the one iotscope presented upstream",
        cause: "In MITM mode the endpoint sees the certificate given with --device-cert, not the device's. When the device sent another certificate, the endpoint's answers on this connection are about iotscope's certificate, and say nothing about whether the device's own one is registered, active and allowed.",
        tell_apart: "The certificate IDs (SHA-256 of the DER) of the device's leaf and of --device-cert differ. Same ID: no finding.",
        steps: &[
            "Give iotscope the device's own certificate and key (--device-cert, --device-key), or a directory of them with --device-certs, and connect again.",
            DESCRIBE_CERT,
        ],
    },
    Entry {
        code: Code::AuthDeviceKeyNotHeld,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The device does not hold the key of the certificate it sent",
        cause: "The device's CertificateVerify signature does not verify with its certificate's public key: its TLS stack signs with another private key than the certificate's. The endpoint would end the handshake with decrypt_error.",
        tell_apart: "iotscope checks the signature itself in MITM mode; the device's certificate is named. A key that matches but a certificate that is refused is AUTH.CLIENT_CERT_REJECTED.",
        steps: &[
            "Configure the key the certificate was made for: openssl x509 -noout -pubkey -in CERT and openssl pkey -pubout -in KEY must print the same key (iotscope cert check CERT --key KEY checks it).",
        ],
    },
    Entry {
        code: Code::SecDeviceAcceptsBadCert,
        section: Section::SecurityIdentity,
        severity: Severity::Error,
        title: "FAIL: the device accepted an endpoint certificate it should have refused",
        cause: "iotscope presented a deliberately bad certificate (--present untrusted, wrong-name or expired) and the device went on to send application data. Such a device would talk to anyone who intercepts it, and would hand its MQTT credentials and data to them.",
        tell_apart: "Application data (MQTT) from the device after a handshake in which iotscope presented the bad certificate. A device that sends an alert or closes passes (SEC.DEVICE_REFUSES_BAD_CERT).",
        steps: &[
            "Turn on certificate validation in the device's TLS stack: verify the chain against Amazon Root CA 1 (or the custom domain's CA) and check the endpoint name (host name verification), and keep the clock set.",
        ],
    },
    Entry {
        code: Code::SecDeviceRefusesBadCert,
        section: Section::SecurityIdentity,
        severity: Severity::Info,
        title: "PASS: the device refused a bad endpoint certificate",
        cause: "iotscope presented a deliberately bad certificate (--present untrusted, wrong-name or expired) and the device refused it before sending any application data, as a device should.",
        tell_apart: "An alert or a close from the device during or right after the handshake, with no application data.",
        steps: &["Nothing to fix. Run the other --present modes too: untrusted, wrong-name and expired test different checks."],
    },
    // ------------------------------------------------- What the account says (--account)
    Entry {
        code: Code::AuthCertNotRegistered,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The device's certificate is not registered in this account and region",
        cause: "The account (describe-certificate / list-certificates, from --account files or --aws) does not hold the certificate the device presented. AWS IoT Core refuses a certificate that is not registered in the account and region of the endpoint it reaches.",
        tell_apart: "The certificate ID (SHA-256 of the device's certificate) is missing from the account's certificates; AUTH.CERT_INACTIVE / AUTH.CERT_REVOKED are registered certificates in the wrong status.",
        steps: &[
            "Register it: aws iot register-certificate-without-ca --certificate-pem file://device.pem.crt --status ACTIVE --region {region} (or register its CA and the certificate with register-certificate), then attach the thing's policy.",
            "Check that the device uses this account's endpoint in this region: aws iot describe-endpoint --endpoint-type iot:Data-ATS --region {region}",
            DESCRIBE_CERT_REGION,
        ],
    },
    Entry {
        code: Code::AuthCertInactive,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The device's certificate is registered but not active",
        cause: "The account holds the certificate with the status INACTIVE, REGISTER_INACTIVE or PENDING_ACTIVATION. AWS IoT Core accepts only ACTIVE certificates.",
        tell_apart: "describe-certificate shows the status; REVOKED is AUTH.CERT_REVOKED, which cannot be undone.",
        steps: &[UPDATE_CERT, DESCRIBE_CERT_REGION],
    },
    Entry {
        code: Code::AuthCertRevoked,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The device's certificate is revoked",
        cause: "The account holds the certificate with the status REVOKED. A revoked certificate cannot be made active again.",
        tell_apart: "describe-certificate shows REVOKED; INACTIVE (AUTH.CERT_INACTIVE) can be switched back on.",
        steps: &[
            "Issue a new certificate (aws iot create-keys-and-certificate --set-as-active --region {region}), attach the thing's policy and the thing to it, and install it on the device.",
            DESCRIBE_CERT_REGION,
        ],
    },
    Entry {
        code: Code::AuthCertPendingTransfer,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The device's certificate is being transferred to another account",
        cause: "The account holds the certificate with the status PENDING_TRANSFER: a transfer was started and not accepted, so neither account may use it.",
        tell_apart: "describe-certificate shows PENDING_TRANSFER and transferData.",
        steps: &[
            "In the receiving account: aws iot accept-certificate-transfer --certificate-id {cert_id} --set-as-active; or in this one: aws iot cancel-certificate-transfer --certificate-id {cert_id}",
            DESCRIBE_CERT_REGION,
        ],
    },
    Entry {
        code: Code::AuthCertActive,
        section: Section::Authentication,
        severity: Severity::Info,
        title: "The device's certificate is registered and ACTIVE",
        cause: "The account holds the certificate the device presented, with the status ACTIVE: the certificate is not the reason for a refusal (not unregistered, inactive or revoked).",
        tell_apart: "describe-certificate shows ACTIVE for the certificate ID the device presented.",
        steps: &["If the connection was still refused, look at the CA, the policy (AUTHZ.*) and the endpoint: the certificate itself is in order."],
    },
    Entry {
        code: Code::AuthCaNotRegistered,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The CA of the device's certificate is not registered",
        cause: "The device's certificate was registered with a CA that the account does not hold (describe-ca-certificate). A CA-signed certificate needs its CA registered in the same account and region.",
        tell_apart: "The certificate record names a caCertificateId that describe-ca-certificate does not find.",
        steps: &[
            "Register the CA: aws iot register-ca-certificate --ca-certificate file://ca.pem --set-as-active --region {region}",
            DESCRIBE_CERT_REGION,
        ],
    },
    Entry {
        code: Code::AuthCaInactive,
        section: Section::Authentication,
        severity: Severity::Error,
        title: "The CA of the device's certificate is not active",
        cause: "The CA that signed the device's certificate is registered but not ACTIVE, so AWS IoT Core refuses the certificates it signed.",
        tell_apart: "describe-ca-certificate shows a status other than ACTIVE.",
        steps: &["aws iot update-ca-certificate --certificate-id CA_CERTIFICATE_ID --new-status ACTIVE --region {region}"],
    },
    Entry {
        code: Code::AuthzNoPolicyAttached,
        section: Section::Authorization,
        severity: Severity::Error,
        title: "No policy is attached to the device's certificate",
        cause: "The account lists no policy attached to the certificate (list-attached-policies). All actions are denied by default, so AWS IoT Core refuses the device's CONNECT.",
        tell_apart: "list-attached-policies for the certificate's ARN is empty; a policy that is attached but does not allow the request is AUTHZ.CONNECT_DENIED / PUBLISH_DENIED / SUBSCRIBE_DENIED.",
        steps: &[
            "aws iot attach-policy --policy-name POLICY_NAME --target arn:aws:iot:{region}:{account}:cert/{cert_id}",
            "aws iot list-attached-policies --target arn:aws:iot:{region}:{account}:cert/{cert_id}",
        ],
    },
    Entry {
        code: Code::AuthzNoThingAttached,
        section: Section::Authorization,
        severity: Severity::Info,
        title: "No thing is attached to the device's certificate",
        cause: "The account lists no thing for the certificate (list-principal-things), while its policy uses ${iot:Connection.Thing.*} variables: they stay empty, so the statements that use them match nothing.",
        tell_apart: "list-principal-things for the certificate's ARN is empty, and an attached policy names iot:Connection.Thing.",
        steps: &["aws iot attach-thing-principal --thing-name THING_NAME --principal arn:aws:iot:{region}:{account}:cert/{cert_id}"],
    },
    Entry {
        code: Code::ConnSniOtherAccount,
        section: Section::Connection,
        severity: Severity::Error,
        title: "The SNI is not this account's endpoint",
        cause: "The name the device asked for is neither the account's iot:Data-ATS endpoint nor one of its domain configurations: the device is pointed at another account's or another region's endpoint, where its certificate is not registered.",
        tell_apart: "describe-endpoint and the domain configurations of the account name other hosts than the ClientHello's server_name.",
        steps: &[DESCRIBE_ENDPOINT, "Point the device at the account's endpoint (and send it as SNI), or register the certificate in the account that owns {sni}."],
    },
    Entry {
        code: Code::AccountLookupFailed,
        section: Section::Authentication,
        severity: Severity::Info,
        title: "A question to the account failed",
        cause: "iotscope could not get a fact from the account (no credentials, access denied, throttled, no network, or a file missing): the diagnosis rests on the wire alone for that fact.",
        tell_apart: "The finding names the call as IAM names it and the error.",
        steps: &["Give the identity iotscope runs as the read-only permission the finding names, or pass the AWS CLI's output for that call with --account."],
    },
    // ---------------------------------------------- What AWS logged (AWSIotLogsV2)
    Entry {
        code: Code::LogKeepAliveTimeout,
        section: Section::Connection,
        severity: Severity::Warning,
        title: "AWS disconnected the device: keep-alive timeout",
        cause: "AWS IoT logged the disconnect reason MQTT_KEEP_ALIVE_TIMEOUT: no packet from the device for 1.5 times its keep-alive interval.",
        tell_apart: "A Disconnect entry with disconnectReason MQTT_KEEP_ALIVE_TIMEOUT.",
        steps: &["Make the device send PINGREQ within its keep-alive (AWS IoT Core allows 30 to 1200 s), and check that its network does not stall.", LOG_QUERY],
    },
    Entry {
        code: Code::LogConnectionLost,
        section: Section::Connection,
        severity: Severity::Warning,
        title: "AWS logged the connection as lost",
        cause: "AWS IoT logged the disconnect reason CONNECTION_LOST: the network connection ended without an MQTT DISCONNECT (network cut, high latency, device reset).",
        tell_apart: "A Disconnect entry with disconnectReason CONNECTION_LOST; CLIENT_INITIATED_DISCONNECT is a clean close.",
        steps: &["Look at the device's network and power around that time; a capture near the device shows who closed.", LOG_QUERY],
    },
    Entry {
        code: Code::LogAuthError,
        section: Section::Authorization,
        severity: Severity::Error,
        title: "AWS disconnected the device: authentication or authorization failed",
        cause: "AWS IoT logged the disconnect reason AUTH_ERROR: the client failed to authenticate or an authorization failed (for example a PUBLISH the policy denies on MQTT 3.1.1).",
        tell_apart: "A Disconnect entry with disconnectReason AUTH_ERROR; the AUTHORIZATION_FAILURE entry before it names the action.",
        steps: &[LOGS, DESCRIBE_CERT_REGION],
    },
    Entry {
        code: Code::LogThrottled,
        section: Section::Connection,
        severity: Severity::Warning,
        title: "AWS throttled the device",
        cause: "AWS IoT logged THROTTLED: the client exceeded a limit (connect, publish or subscribe rate per client or per account).",
        tell_apart: "A Disconnect entry with disconnectReason THROTTLED, or a failure whose reason names throttling.",
        steps: &["Slow the device's reconnects (exponential backoff with jitter) and its publish rate; see the AWS IoT Core quotas.", LOG_QUERY],
    },
    Entry {
        code: Code::LogClientError,
        section: Section::Connection,
        severity: Severity::Error,
        title: "AWS disconnected the device for a protocol error",
        cause: "AWS IoT logged CLIENT_ERROR: the client did something wrong, such as a second CONNECT on one connection or a payload over the size limit.",
        tell_apart: "A Disconnect entry with disconnectReason CLIENT_ERROR; a capture shows the packet (MQTT.MALFORMED, MQTT.AWS_LIMIT).",
        steps: &["Capture the device's traffic with iotscope proxy to see the packet AWS objected to.", LOG_QUERY],
    },
    Entry {
        code: Code::LogForbiddenAccess,
        section: Section::Authorization,
        severity: Severity::Error,
        title: "AWS refused the device: forbidden access",
        cause: "AWS IoT logged FORBIDDEN_ACCESS: the client is not allowed to be connected, for example its IP address is denied by a policy condition.",
        tell_apart: "A Disconnect entry with disconnectReason FORBIDDEN_ACCESS.",
        steps: &["Check the policy's conditions (aws:SourceIp, iot:Connection.Thing.IsAttached) against the device.", LOG_QUERY],
    },
    Entry {
        code: Code::LogServerDisconnect,
        section: Section::Connection,
        severity: Severity::Info,
        title: "AWS closed the connection on its side",
        cause: "AWS IoT logged SERVER_INITIATED_DISCONNECT, SERVER_ERROR or API_INITIATED_DISCONNECT: the service closed the connection (maintenance, an internal error, or a DeleteConnection call).",
        tell_apart: "A Disconnect entry with one of those reasons; nothing the device did.",
        steps: &["Reconnect with backoff; if it repeats, check for DeleteConnection calls in CloudTrail and AWS Health events."],
    },
    Entry {
        code: Code::LogTtlExpired,
        section: Section::Connection,
        severity: Severity::Info,
        title: "The connection outlived its time to live",
        cause: "AWS IoT logged WEBSOCKET_TTL_EXPIRATION or CUSTOMAUTH_TTL_EXPIRATION: a WebSocket or custom-authorizer connection lasted longer than allowed.",
        tell_apart: "A Disconnect entry with one of those reasons.",
        steps: &["Reconnect before the time to live ends, or raise the custom authorizer's refresh interval."],
    },
    Entry {
        code: Code::LogFailure,
        section: Section::Connection,
        severity: Severity::Warning,
        title: "AWS logged a failure",
        cause: "An AWSIotLogsV2 entry with status Failure whose reason has no entry of its own here; its reason and details say what AWS refused.",
        tell_apart: "The entry's eventType, reason and details.",
        steps: &[LOG_QUERY],
    },
];

/// The entry for a code. The catalogue lists the codes in [`Code::ALL`]'s order (a test
/// holds it to that), so this is an index.
pub fn entry(code: Code) -> &'static Entry {
    let e = &CATALOGUE[code as usize];
    debug_assert_eq!(e.code, code);
    e
}

/// The entry for a code's printed name (`iotscope explain CODE`), in any letter case.
pub fn entry_named(name: &str) -> Option<&'static Entry> {
    Code::parse(name).map(entry)
}

/// A code's next steps, filled with `values`.
pub fn steps(code: Code, values: &Values) -> Vec<String> {
    entry(code).steps.iter().map(|s| fill(s, values)).collect()
}

/// Values that fill the step templates.
#[derive(Clone, Debug, Default)]
pub struct Values {
    pub endpoint: Option<String>,
    pub port: Option<u16>,
    pub sni: Option<String>,
    pub cert_id: Option<String>,
    pub client_id: Option<String>,
    pub topic: Option<String>,
    pub filter: Option<String>,
    /// `--region`, which wins over the endpoint name's; else the region of the certificate's
    /// ARN when the account was asked.
    pub region: Option<String>,
    /// `--account-id`, else the account of the certificate's ARN (`--account`, `--aws`).
    pub account: Option<String>,
}

impl Values {
    /// The AWS region: as given, else from an endpoint name
    /// `PREFIX-ats.iot.REGION.amazonaws.com`.
    pub fn region(&self) -> Option<String> {
        if let Some(r) = &self.region {
            return Some(r.clone());
        }
        let host = self.endpoint.as_deref().or(self.sni.as_deref())?;
        region_of(host)
    }
}

/// The region of an AWS IoT host name, e.g. `us-east-1`.
pub fn region_of(host: &str) -> Option<String> {
    let labels: Vec<&str> = host.split('.').collect();
    let i = labels.iter().position(|l| l.eq_ignore_ascii_case("iot"))?;
    let region = labels.get(i + 1)?;
    let rest = &labels[i + 2..];
    let aws = rest
        .first()
        .is_some_and(|l| l.eq_ignore_ascii_case("amazonaws"));
    (aws && !region.is_empty()).then(|| region.to_ascii_lowercase())
}

/// Fills a step template with the connection's values.
pub fn fill(template: &str, v: &Values) -> String {
    // Each placeholder in turn, in this order; a value is made only when its placeholder is
    // there (every finding of every connection comes through here).
    const KEYS: [(&str, &str); 9] = [
        ("{endpoint}", "ENDPOINT"),
        ("{port}", "PORT"),
        ("{sni}", "SNI"),
        ("{cert_id}", "CERTIFICATE_ID"),
        ("{client_id}", "CLIENT_ID"),
        ("{topic}", "TOPIC"),
        ("{filter}", "TOPIC_FILTER"),
        ("{region}", "REGION"),
        ("{account}", "ACCOUNT"),
    ];
    let mut s = template.to_string();
    for (key, placeholder) in KEYS {
        if !s.contains(key) {
            continue;
        }
        let value = match key {
            "{endpoint}" => v.endpoint.clone().or(v.sni.clone()),
            "{port}" => v.port.map(|p| p.to_string()),
            "{sni}" => v.sni.clone(),
            "{cert_id}" => v.cert_id.clone(),
            "{client_id}" => v.client_id.clone(),
            "{topic}" => v.topic.clone(),
            "{filter}" => v.filter.clone(),
            "{account}" => v.account.clone(),
            _ => v.region(),
        };
        s = s.replace(key, value.as_deref().unwrap_or(placeholder));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        assert_eq!(CATALOGUE.len(), Code::ALL.len());
        for (e, code) in CATALOGUE.iter().zip(Code::ALL) {
            assert_eq!(e.code, *code, "the catalogue is out of Code::ALL's order");
            let (prefix, name) = e.code.as_str().split_once('.').unwrap();
            assert!([
                "CONN", "AUTH", "AUTHZ", "MQTT", "SEC", "TLS", "CERT", "MITM", "ACCOUNT", "LOG"
            ]
            .contains(&prefix));
            assert!(name.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
            assert!(!e.steps.is_empty(), "{} has no next step", e.code);
        }
    }

    #[test]
    fn the_issue_codes_are_all_here() {
        for code in [
            "CONN.NOT_TLS",
            "CONN.SNI_MISSING",
            "CONN.SNI_MISMATCH",
            "CONN.LEGACY_ENDPOINT",
            "CONN.ALPN_REQUIRED",
            "CONN.WRONG_PROTOCOL",
            "CONN.PROTOCOL_VERSION",
            "CONN.NO_SHARED_CIPHER",
            "CONN.UPSTREAM_UNREACHABLE",
            "AUTH.SERVER_CERT_UNTRUSTED",
            "AUTH.SERVER_NAME_MISMATCH",
            "AUTH.CLIENT_CERT_MISSING",
            "AUTH.CLIENT_CERT_REJECTED",
            "AUTH.CLIENT_CERT_EXPIRED",
            "AUTHZ.CONNECT_DENIED",
            "AUTHZ.PUBLISH_DENIED",
            "AUTHZ.SUBSCRIBE_DENIED",
            "MQTT.CONNECT_REFUSED",
            "MQTT.MALFORMED",
            "MQTT.AWS_LIMIT",
            "MQTT.SESSION_TAKEN_OVER",
            "SEC.CUSTOM_DOMAIN_TOO_MANY_NAMES",
        ] {
            assert!(entry_named(code).is_some(), "{code} missing");
        }
    }

    #[test]
    fn templates_are_filled_with_the_connections_values() {
        let v = Values {
            endpoint: Some("abc123example-ats.iot.us-east-1.amazonaws.com".into()),
            cert_id: Some("ab".repeat(32)),
            client_id: Some("good".into()),
            topic: Some("devices/other/telemetry".into()),
            ..Values::default()
        };
        let publish = entry(Code::AuthzPublishDenied).steps[0];
        assert_eq!(
            fill(publish, &v),
            format!(
                "Allow iot:Publish on arn:aws:iot:us-east-1:ACCOUNT:topic/devices/other/telemetry in the policy attached to certificate {}.",
                "ab".repeat(32)
            )
        );
        // --region and --account-id, when given, win over the endpoint name and the placeholder.
        let given = Values {
            region: Some("eu-central-1".into()),
            account: Some("123456789012".into()),
            ..v.clone()
        };
        assert!(fill(publish, &given)
            .starts_with("Allow iot:Publish on arn:aws:iot:eu-central-1:123456789012:topic/"));
        assert_eq!(
            fill(DESCRIBE_CERT, &Values::default()),
            "aws iot describe-certificate --certificate-id CERTIFICATE_ID   # status must be ACTIVE"
        );
        assert_eq!(
            region_of("a1b2-ats.iot.eu-west-1.amazonaws.com").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of("a3ipc50fnth9og.iot.cn-north-1.amazonaws.com.cn").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(region_of("mqtt.example.com"), None);
    }
}
