//! What the AWS account says about a connection, and where it comes from.
//!
//! The decoder holds the plain records ([`iotscope_decoder::account`]); this crate holds the
//! [`AccountSource`] trait that asks for them, so a front end can plug in the AWS CLI's JSON files
//! (`--account FILE...`) or the AWS API (`--aws`, in `iotscope-account-aws`) without the report or
//! the proxy knowing which, and [`resolve`], which asks a source about one connection.

pub mod files;
pub mod join;
pub mod logs;
pub mod resolve;
pub mod source;

pub use files::{FileError, Files};
pub use iotscope_decoder::account::{
    AccountFacts, CaRecord, CallFailure, CertStatus, CertificateRecord, DomainRecord, Endpoints,
    LogEntry, LogQuery, Lookup, PolicyRecord, ThingRecord,
};
pub use resolve::{device_certificate_id, log_query, resolve};
pub use source::{AccountSource, SharedSource};
