//! The probe's TLS connection as its steps use it: the stream type, how its failures read,
//! and iotscope's orderly close. Both the handshake step and the MQTT exchange use these.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use iotscope_decoder::tls::names::alert_name;

use crate::feed::tee::TeeStream;

/// The TLS stream the MQTT exchange runs on.
pub type Stream = tokio_rustls::client::TlsStream<TeeStream<TcpStream>>;

/// How long to wait for the endpoint's own close after iotscope's, and for a TLS 1.3
/// endpoint to refuse a certificate after the handshake: refusals come at once, so a
/// second is plenty and keeps a working probe quick.
pub const SETTLE: Duration = Duration::from_secs(1);

/// A TLS failure in words: the endpoint's alert, iotscope's verdict (its reason is in the
/// TLS step's chain lines), or what the socket did.
pub fn describe(e: &io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(a)) => {
            let code = u8::from(*a);
            format!(
                "the endpoint sent the alert {}",
                alert_name(code).map_or_else(|| format!("{code}"), str::to_string)
            )
        }
        Some(rustls::Error::InvalidCertificate(_)) => {
            "iotscope refused the endpoint's certificate".into()
        }
        Some(other) => other.to_string(),
        None => match e.kind() {
            io::ErrorKind::UnexpectedEof => {
                "the endpoint closed the connection without a TLS alert".into()
            }
            io::ErrorKind::ConnectionReset => "the endpoint reset the connection".into(),
            _ => e.to_string(),
        },
    }
}

/// iotscope's orderly close: close_notify and FIN, then up to `wait` for the endpoint's
/// own close. Says what the endpoint did.
pub async fn close(tls: &mut Stream, wait: Duration) -> String {
    if let Err(e) = tokio::time::timeout(wait, tls.shutdown())
        .await
        .unwrap_or(Ok(()))
    {
        return format!("closing failed: {}", describe(&e));
    }
    let deadline = tokio::time::Instant::now() + wait;
    let mut buf = vec![0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, tls.read(&mut buf)).await {
            Err(_) => {
                return format!(
                    "the endpoint did not close within {:.1} s",
                    wait.as_secs_f64()
                )
            }
            Ok(Ok(0)) => {
                // rustls stops at the close_notify; the FIN behind it is read off the
                // socket so the ladder shows the endpoint's whole close.
                let tee = &mut tls.get_mut().0;
                while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, tee.read(&mut buf)).await {
                    if n == 0 {
                        break;
                    }
                }
                return "the endpoint closed the connection too".into();
            }
            Ok(Ok(_)) => continue,
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return "the endpoint closed the connection too".into()
            }
            Ok(Err(e)) => return format!("then {}", describe(&e)),
        }
    }
}
