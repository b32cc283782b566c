//! HTTPS publish, as AWS IoT Core serves it on port 8443 and on 443 with ALPN
//! `x-amzn-http-ca` (protocols page, reference §1.1): `POST /topics/<url-encoded topic>?qos=1`
//! over HTTP/1.0 or 1.1 with the device's client certificate; the body is the payload
//! (https://docs.aws.amazon.com/iot/latest/developerguide/http.html). HTTPS has no client id.
//!
//! Answers: 200 when published; 403 Forbidden when the policy does not allow `iot:Publish`
//! (or `iot:RetainPublish`) on the topic; 400 for a request that is not a publish or a topic
//! that breaks AWS's rules; 413 for a body over 128 KB. The codes are those of AWS's error list
//! (https://docs.aws.amazon.com/iot/latest/developerguide/iot-errors.html); which one AWS
//! gives for which case, and the JSON bodies (`{"message":"OK","traceId":…}`,
//! `{"message":"Forbidden","traceId":…}`), are UNVERIFIED. A certificate AWS would not accept
//! never gets here: it is refused in the TLS handshake (see [`crate::tls`]), so 401 is not
//! produced.
//!
//! Why by hand rather than an HTTP crate: one route, one method, bounded sizes; a server
//! framework would be most of the endpoint's dependency tree.

use std::sync::Arc;

use iotscope_decoder::policy::Action;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use crate::limits::{self, MAX_PACKET};
use crate::log::{Event, Who};
use crate::mqtt::broker::{Authz, Message};
use crate::mqtt::topics::{self, Bad};
use crate::shared::Shared;

/// The most bytes of a request line and headers.
const MAX_HEAD: usize = 16 * 1024;

struct Request {
    method: String,
    target: String,
    http10: bool,
    close: bool,
    length: Option<usize>,
    chunked: bool,
}

/// Serves HTTPS publish requests on one connection until it closes.
pub async fn serve<S>(stream: S, shared: Arc<Shared>, authz: Authz, who: Who)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (rd, mut wr) = tokio::io::split(stream);
    let mut rd = BufReader::new(rd);
    loop {
        let head = tokio::time::timeout(limits::HANDSHAKE_TIMEOUT, read_head(&mut rd)).await;
        let req = match head {
            Ok(Ok(Some(r))) => r,
            Ok(Ok(None)) | Err(_) => break,
            Ok(Err(status)) => {
                let _ = respond(&mut wr, status, "Bad Request", &who, true).await;
                break;
            }
        };
        let close = req.close || req.http10;
        if req.chunked {
            let _ = respond(&mut wr, 411, "Length Required", &who, true).await;
            break;
        }
        let len = req.length.unwrap_or(0);
        if len > MAX_PACKET {
            // Quotas page: messages over 128 KB are rejected.
            let _ = respond(&mut wr, 413, "Request Too Large", &who, true).await;
            break;
        }
        let mut body = vec![0u8; len];
        if rd.read_exact(&mut body).await.is_err() {
            break;
        }
        let (status, message) = publish(&shared, &authz, &who, &req, body);
        if respond(&mut wr, status, message, &who, close)
            .await
            .is_err()
            || close
        {
            break;
        }
    }
    let _ = wr.shutdown().await;
}

/// The answer to one request: its status and message.
fn publish(
    shared: &Shared,
    authz: &Authz,
    who: &Who,
    req: &Request,
    body: Vec<u8>,
) -> (u16, &'static str) {
    let Some(rest) = req.target.strip_prefix("/topics/") else {
        return (404, "Not Found");
    };
    if req.method != "POST" {
        return (405, "Method Not Allowed");
    }
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let Some(topic) = percent_decode(path) else {
        return (400, "Bad Request");
    };
    let mut qos = 0u8;
    let mut retain = false;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=').unwrap_or((pair, "")) {
            ("qos", "0") => qos = 0,
            ("qos", "1") => qos = 1,
            ("retain", "true") => retain = true,
            ("retain", "false") => retain = false,
            _ => return (400, "Bad Request"),
        }
    }
    let fail = |reason, details: String| {
        shared.log.write(
            who,
            Event::PublishInFailed {
                topic: &topic,
                reason,
                details,
            },
        )
    };
    match topics::check_topic(&topic) {
        Err(Bad::Invalid(why)) => {
            fail("CLIENT_ERROR", why);
            return (400, "Bad Request");
        }
        Err(Bad::Reserved(why)) => {
            fail(
                "AUTHORIZATION_FAILURE",
                format!("Authorization Failure: {why}"),
            );
            return (403, "Forbidden");
        }
        Ok(()) => {}
    }
    let denied = if !authz.allows(Action::Publish, &topic) {
        Some("iot:Publish")
    } else if retain && !authz.allows(Action::RetainPublish, &topic) {
        Some("iot:RetainPublish")
    } else {
        None
    };
    if let Some(action) = denied {
        fail(
            "AUTHORIZATION_FAILURE",
            format!("Authorization Failure: {action} on topic/{topic} is not allowed"),
        );
        return (403, "Forbidden");
    }
    shared.log.write(
        who,
        Event::PublishIn {
            topic: &topic,
            retain,
        },
    );
    shared.broker.publish(Message {
        topic,
        payload: Arc::new(body),
        qos,
        retain,
    });
    (200, "OK")
}

/// Reads a request line and headers; `None` at a clean end of the stream.
async fn read_head<R: AsyncBufReadExt + Unpin>(rd: &mut R) -> Result<Option<Request>, u16> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut line = String::new();
        let n = rd.read_line(&mut line).await.map_err(|_| 400u16)?;
        if n == 0 {
            return if lines.is_empty() { Ok(None) } else { Err(400) };
        }
        total += n;
        if total > MAX_HEAD {
            return Err(431);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            if lines.is_empty() {
                continue;
            }
            break;
        }
        lines.push(line);
    }
    let mut first = lines[0].split_whitespace();
    let (Some(method), Some(target), Some(version)) = (first.next(), first.next(), first.next())
    else {
        return Err(400);
    };
    let mut req = Request {
        method: method.to_string(),
        target: target.to_string(),
        http10: version == "HTTP/1.0",
        close: false,
        length: None,
        chunked: false,
    };
    for h in &lines[1..] {
        let Some((name, value)) = h.split_once(':') else {
            return Err(400);
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => req.length = Some(value.parse().map_err(|_| 400u16)?),
            "transfer-encoding" => req.chunked = value.to_ascii_lowercase().contains("chunked"),
            "connection" => req.close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    Ok(Some(req))
}

async fn respond<W: AsyncWrite + Unpin>(
    wr: &mut W,
    status: u16,
    message: &str,
    who: &Who,
    close: bool,
) -> std::io::Result<()> {
    let body = format!(
        "{{\"message\":\"{}\",\"traceId\":\"{}\"}}",
        message, who.trace_id
    );
    let head = format!(
        "HTTP/1.1 {status} {message}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: {}\r\n\r\n",
        body.len(),
        if close { "close" } else { "keep-alive" }
    );
    wr.write_all(head.as_bytes()).await?;
    wr.write_all(body.as_bytes()).await?;
    wr.flush().await
}

/// `%XX` decoding of a path segment; `None` for a bad escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_percent_decoded() {
        assert_eq!(percent_decode("a%2Fb%20c").as_deref(), Some("a/b c"));
        assert_eq!(percent_decode("demo/x").as_deref(), Some("demo/x"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("%FF"), None);
    }

    #[tokio::test]
    async fn a_request_head_is_read() {
        let text =
            b"POST /topics/demo%2Fa?qos=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
        let mut rd = BufReader::new(&text[..]);
        let r = read_head(&mut rd).await.unwrap().unwrap();
        assert_eq!(
            (r.method.as_str(), r.target.as_str(), r.length),
            ("POST", "/topics/demo%2Fa?qos=1", Some(5))
        );
        assert!(!r.http10 && !r.close && !r.chunked);
    }
}
