//! Why a policy file could not be read as a policy. Each error names the file (or the
//! policy inside it) and the place: a line and column for JSON that does not parse, a JSON
//! pointer (RFC 6901) for JSON that is not a policy.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// The text is not JSON. `within` names the policy when the broken JSON is a document
    /// string inside `aws iot get-policy` output: the line and column then count inside
    /// that string.
    #[error("{source_name}{within}: not valid JSON at line {line}, column {column}: {message}")]
    Syntax {
        source_name: String,
        within: String,
        line: usize,
        column: usize,
        message: String,
    },
    /// JSON, but not a policy document (nor `get-policy` / `get-effective-policies` output).
    #[error("{source_name}: {pointer}: {what}")]
    Shape {
        source_name: String,
        pointer: String,
        what: String,
    },
    /// A condition operator AWS does not define.
    #[error("{source_name}: {pointer}: {operator:?} is not a condition operator")]
    UnknownOperator {
        source_name: String,
        pointer: String,
        operator: String,
    },
    /// A condition operator AWS defines that iotscope does not evaluate (numbers, dates,
    /// binary): answering without it could be wrong either way.
    #[error(
        "{source_name}: {pointer}: iotscope does not evaluate the condition operator {operator:?}"
    )]
    UnsupportedOperator {
        source_name: String,
        pointer: String,
        operator: String,
    },
}

impl PolicyError {
    /// The JSON pointer or `line:column` of the problem, for lint output.
    pub fn place(&self) -> String {
        match self {
            PolicyError::Syntax { line, column, .. } => format!("{line}:{column}"),
            PolicyError::Shape { pointer, .. }
            | PolicyError::UnknownOperator { pointer, .. }
            | PolicyError::UnsupportedOperator { pointer, .. } => pointer.clone(),
        }
    }
}
