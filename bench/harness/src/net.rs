//! Targets named on the command line, and the files through which servers tell `bench/run`
//! which port they took.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio::net::TcpListener;

/// A named address: the name becomes part of the printed keys (`tp_direct_mib_s`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub addr: SocketAddr,
}

/// `NAME=HOST:PORT`, where NAME is letters, digits and `_` so that it fits in a key.
pub fn parse_target(s: &str) -> Result<Target, String> {
    let (name, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected NAME=HOST:PORT"))?;
    check_name(name)?;
    let addr = addr
        .parse()
        .map_err(|e| format!("{addr:?} is not HOST:PORT with a numeric host: {e}"))?;
    Ok(Target {
        name: name.to_string(),
        addr,
    })
}

/// `NAME=FILE`.
pub fn parse_named_path(s: &str) -> Result<(String, PathBuf), String> {
    let (name, path) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected NAME=FILE"))?;
    check_name(name)?;
    Ok((name.to_string(), PathBuf::from(path)))
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "{name:?}: a target name is letters, digits and _ only"
        ));
    }
    Ok(())
}

/// Binds `listen` (port 0 picks a free one) and writes the port taken to `port_file`, so
/// that the script never has to guess a free port.
pub async fn bind(listen: SocketAddr, port_file: &Path) -> Result<TcpListener, String> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?
        .port();
    write_atomically(port_file, &format!("{port}\n"))?;
    Ok(listener)
}

/// Writes through a temporary file and a rename, so a reader polling the file never sees
/// half of it.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_is_name_and_address() {
        let t = parse_target("proxy=127.0.0.1:8443").unwrap();
        assert_eq!(t.name, "proxy");
        assert_eq!(t.addr, "127.0.0.1:8443".parse().unwrap());
    }

    #[test]
    fn target_names_must_fit_in_a_key() {
        assert!(parse_target("pro-xy=127.0.0.1:1").is_err());
        assert!(parse_target("=127.0.0.1:1").is_err());
        assert!(parse_target("127.0.0.1:1").is_err());
        assert!(parse_target("x=localhost:1").is_err());
    }

    #[test]
    fn named_path_splits_at_the_first_equals() {
        assert_eq!(
            parse_named_path("mitm=/tmp/a=b.pem").unwrap(),
            ("mitm".to_string(), PathBuf::from("/tmp/a=b.pem"))
        );
    }

    #[test]
    fn port_file_holds_the_bound_port() {
        let dir = std::env::temp_dir().join(format!("iotscope-bench-net-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("port");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(bind("127.0.0.1:0".parse().unwrap(), &file))
            .unwrap();
        let written: u16 = std::fs::read_to_string(&file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(written, listener.local_addr().unwrap().port());
        assert_ne!(written, 0);
        drop(listener);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
