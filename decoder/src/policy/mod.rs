//! AWS IoT Core policies, evaluated without AWS: which of a device's MQTT requests the
//! policies attached to its certificate allow, which statement decided, and what to add
//! when one is denied. Sans-IO like the rest of the decoder: documents come in as text, the
//! device as a [`Device`]; nothing here reads a file.
//!
//! - [`document`]: the JSON (a bare document, `aws iot get-policy`, `aws iot
//!   get-effective-policies`) into [`Policy`] values, checked once;
//! - [`pattern`]: IAM wildcards and `${…}` in policy strings;
//! - [`variables`]: policy variables and condition keys for one device;
//! - [`condition`]: the condition operators;
//! - [`evaluate`]: explicit deny, allow, implicit deny;
//! - [`suggest`]: the statement that would allow a denied request;
//! - [`lint`]: problems in a document before any device meets it.

pub mod actions;
pub mod condition;
pub mod device;
pub mod document;
pub mod error;
pub mod evaluate;
pub mod given;
pub mod lint;
pub mod pattern;
pub mod resource;
pub mod suggest;
pub mod variables;

pub use actions::{Action, Request};
pub use device::{Device, Thing};
pub use document::{parse_policies, Effect, Policy, Statement};
pub use error::PolicyError;
pub use evaluate::{evaluate, Decision, Reason, StatementRef, Verdict};
pub use given::Given;
pub use lint::{lint, Problem, ProblemKind};
