//! `iotscope ca init | show | export`.

use crate::error::Error;
use std::path::PathBuf;

use super::{dir_or_default, KeyType, LocalCa, CERT_FILE, KEY_FILE};

/// What `iotscope ca` is asked to do.
#[derive(Debug, Clone)]
pub enum CaCommand {
    /// Make the CA once (an existing one is kept) and show it.
    Init {
        ca_dir: Option<PathBuf>,
        key_type: KeyType,
        days: u32,
    },
    /// Show the CA.
    Show { ca_dir: Option<PathBuf> },
    /// Print the CA certificate (PEM).
    Export { ca_dir: Option<PathBuf> },
}

pub fn run(args: CaCommand) -> Result<(), Error> {
    result(args)
}

fn result(args: CaCommand) -> Result<(), Error> {
    match args {
        CaCommand::Init {
            ca_dir,
            key_type,
            days,
        } => {
            let dir = dir_or_default(ca_dir.as_deref())?;
            let (ca, made) = LocalCa::init(&dir, key_type, days)?;
            if made {
                println!("made a new CA in {}", dir.display());
            } else {
                println!(
                    "a CA is already in {} and is kept (delete the directory to make a new one)",
                    dir.display()
                );
            }
            print!("{}", describe(&ca, &dir));
            Ok(())
        }
        CaCommand::Show { ca_dir } => {
            let dir = dir_or_default(ca_dir.as_deref())?;
            let ca = LocalCa::load(&dir)?;
            print!("{}", describe(&ca, &dir));
            Ok(())
        }
        CaCommand::Export { ca_dir } => {
            let dir = dir_or_default(ca_dir.as_deref())?;
            let ca = LocalCa::load(&dir)?;
            print!("{}", ca.cert_pem);
            eprintln!(
                "iotscope: this is the CA certificate only. Add it to the device's trust store for the test (for mosquitto_pub/sub: --cafile FILE; for OpenSSL-based stacks: append it to the CA bundle the device loads), and remove it afterwards."
            );
            Ok(())
        }
    }
}

fn describe(ca: &LocalCa, dir: &std::path::Path) -> String {
    let c = iotscope_decoder::cert::summarize(&ca.cert_der);
    let key = match ca.key_type() {
        KeyType::EcdsaP256 => "ECDSA P-256",
        KeyType::Rsa2048 => "RSA 2048",
    };
    let cert_path: PathBuf = dir.join(CERT_FILE);
    format!(
        "subject      {}\nkey          {key}\nvalid        {} .. {} UTC\nSHA-256      {}\ncertificate  {}\nprivate key  {} (mode 0600; never printed)\n",
        c.subject,
        c.not_before,
        c.not_after,
        c.sha256,
        cert_path.display(),
        dir.join(KEY_FILE).display()
    )
}
