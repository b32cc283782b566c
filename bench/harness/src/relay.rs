//! A bare TCP relay: accept, connect to the upstream, copy both ways with 16 KiB buffers
//! (the size of the proxy's reads) and nothing else. It is the least any proxy in user
//! space does, so its cost on this machine is the floor under iotscope's passthrough: what
//! the proxy costs beyond it is its own (the copies for the decoder, the decoding, the
//! bookkeeping).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::net;

const BUFFER: usize = 16 * 1024;

pub async fn run(
    listen: SocketAddr,
    upstream: SocketAddr,
    port_file: &Path,
    limit: Duration,
) -> Result<(), String> {
    let listener = net::bind(listen, port_file).await?;
    let accepting = async {
        loop {
            let Ok((mut device, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            tokio::spawn(async move {
                let Ok(mut up) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = device.set_nodelay(true);
                let _ = up.set_nodelay(true);
                let _ =
                    tokio::io::copy_bidirectional_with_sizes(&mut device, &mut up, BUFFER, BUFFER)
                        .await;
            });
        }
    };
    let _ = tokio::time::timeout(limit, accepting).await;
    Ok(())
}
