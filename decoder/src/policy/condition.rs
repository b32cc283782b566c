//! Condition blocks: `{"StringLike": {"iot:ClientId": "sensor-*"}}` and the rest of the
//! operators AWS IoT policies use, with the `…IfExists` suffix and the `ForAnyValue:` /
//! `ForAllValues:` set prefixes.
//!
//! How a key without a value counts follows IAM: a key known to be absent fails a positive
//! operator and passes a negated one (`StringNotEquals`), `…IfExists` passes it, `ForAllValues`
//! passes it and `ForAnyValue` fails it. A key iotscope was not told about decides nothing:
//! the condition fails and says so, so a statement is never counted on a guess.

use std::net::IpAddr;

use super::device::Device;
use super::pattern;
use super::variables::{self, Lookup, VariableUse};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    Bool,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    IpAddress,
    NotIpAddress,
    Null,
}

const BASES: &[(&str, Base)] = &[
    ("StringEquals", Base::StringEquals),
    ("StringNotEquals", Base::StringNotEquals),
    ("StringEqualsIgnoreCase", Base::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", Base::StringNotEqualsIgnoreCase),
    ("StringLike", Base::StringLike),
    ("StringNotLike", Base::StringNotLike),
    ("Bool", Base::Bool),
    ("ArnEquals", Base::ArnEquals),
    ("ArnNotEquals", Base::ArnNotEquals),
    ("ArnLike", Base::ArnLike),
    ("ArnNotLike", Base::ArnNotLike),
    ("IpAddress", Base::IpAddress),
    ("NotIpAddress", Base::NotIpAddress),
    ("Null", Base::Null),
];

/// IAM operators iotscope knows but does not evaluate.
const NOT_EVALUATED: &[&str] = &[
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "BinaryEquals",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOp {
    /// A single-valued key.
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operator {
    pub base: Base,
    pub set: SetOp,
    pub if_exists: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperatorError {
    Unknown,
    Unsupported,
}

impl Operator {
    /// Reads `ForAnyValue:StringLikeIfExists` and the like. Operator names are
    /// case-sensitive in IAM, and so here.
    pub fn parse(text: &str) -> Result<Operator, OperatorError> {
        let (set, rest) = if let Some(r) = text.strip_prefix("ForAnyValue:") {
            (SetOp::ForAnyValue, r)
        } else if let Some(r) = text.strip_prefix("ForAllValues:") {
            (SetOp::ForAllValues, r)
        } else {
            (SetOp::Single, text)
        };
        let (rest, if_exists) = match rest.strip_suffix("IfExists") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        if let Some((_, base)) = BASES.iter().find(|(n, _)| *n == rest) {
            if *base == Base::Null && (if_exists || set != SetOp::Single) {
                return Err(OperatorError::Unknown);
            }
            return Ok(Operator {
                base: *base,
                set,
                if_exists,
            });
        }
        if NOT_EVALUATED.contains(&rest) {
            return Err(OperatorError::Unsupported);
        }
        Err(OperatorError::Unknown)
    }

    fn negated(self) -> bool {
        matches!(
            self.base,
            Base::StringNotEquals
                | Base::StringNotEqualsIgnoreCase
                | Base::StringNotLike
                | Base::ArnNotEquals
                | Base::ArnNotLike
                | Base::NotIpAddress
        )
    }
}

/// One key of one operator with its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub operator: Operator,
    pub operator_text: String,
    pub key: String,
    pub values: Vec<String>,
}

/// Why a condition was not met.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotMet {
    pub why: String,
    /// Not met because something was unknown, not because it was false.
    pub unknown: bool,
}

impl Condition {
    /// Is the condition met for `device`? Variables in the values are filled first.
    pub fn check(&self, device: &Device, uses: &mut Vec<VariableUse>) -> Result<(), NotMet> {
        let op = self.operator;
        let here = || format!("{} {}", self.operator_text, self.key);
        let context = match variables::lookup(device, &self.key) {
            Lookup::Known(v) => Some(v),
            Lookup::Absent(_) => None,
            Lookup::Unknown(how) => {
                return Err(NotMet {
                    why: format!("condition {}: {} is unknown ({how})", here(), self.key),
                    unknown: true,
                })
            }
        };
        if op.base == Base::Null {
            let want_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return if context.is_none() == want_absent {
                Ok(())
            } else {
                Err(NotMet {
                    why: format!("condition {} is false", here()),
                    unknown: false,
                })
            };
        }
        // The policy's values, variables filled; one that cannot be filled matches nothing.
        let mut wanted = Vec::new();
        for v in &self.values {
            match variables::substitute(v, device, uses) {
                Ok(toks) => wanted.push(toks),
                Err(u) if u.unknown => {
                    return Err(NotMet {
                        why: format!(
                            "condition {}: ${{{}}} is unknown ({})",
                            here(),
                            u.name,
                            u.why
                        ),
                        unknown: true,
                    })
                }
                Err(_) => {}
            }
        }
        let met = match context {
            None => {
                op.if_exists
                    || op.set == SetOp::ForAllValues
                    || (op.negated() && op.set == SetOp::Single)
            }
            Some(values) => {
                let hit = |v: &str| wanted.iter().any(|w| value_matches(op.base, w, v));
                // For a negated operator "matches" means "matches none of the values".
                let ok = |v: &str| hit(v) != op.negated();
                match op.set {
                    SetOp::ForAllValues => values.iter().all(|v| ok(v)),
                    SetOp::ForAnyValue => values.iter().any(|v| ok(v)),
                    SetOp::Single if op.negated() => values.iter().all(|v| ok(v)),
                    SetOp::Single => values.iter().any(|v| ok(v)),
                }
            }
        };
        if met {
            Ok(())
        } else {
            Err(NotMet {
                why: format!("condition {} is false", here()),
                unknown: false,
            })
        }
    }
}

/// Does one context value match one policy value (variables already filled)?
fn value_matches(base: Base, wanted: &[pattern::Tok], value: &str) -> bool {
    let text: String = wanted
        .iter()
        .map(|t| match t {
            pattern::Tok::Lit(c) => *c,
            pattern::Tok::Star => '*',
            pattern::Tok::Quest => '?',
        })
        .collect();
    let literal_equal = || {
        wanted.len() == value.chars().count()
            && wanted.iter().zip(value.chars()).all(|(t, c)| match t {
                pattern::Tok::Lit(l) => *l == c,
                pattern::Tok::Star => c == '*',
                pattern::Tok::Quest => c == '?',
            })
    };
    match base {
        Base::StringEquals | Base::StringNotEquals => literal_equal(),
        Base::StringEqualsIgnoreCase | Base::StringNotEqualsIgnoreCase => {
            text.to_lowercase() == value.to_lowercase()
        }
        Base::StringLike | Base::StringNotLike => {
            pattern::matches(wanted, &pattern::known(value), false)
        }
        Base::Bool => text.eq_ignore_ascii_case(value),
        // ARNs compare field by field (the sixth field keeps any further colons); both
        // operators take wildcards in each field, as in IAM.
        Base::ArnEquals | Base::ArnNotEquals | Base::ArnLike | Base::ArnNotLike => {
            arn_matches(wanted, value)
        }
        Base::IpAddress | Base::NotIpAddress => ip_in(&text, value),
        Base::Null => false,
    }
}

fn arn_matches(wanted: &[pattern::Tok], value: &str) -> bool {
    let split_pat: Vec<&[pattern::Tok]> = {
        let mut parts = Vec::new();
        let mut start = 0;
        for (i, t) in wanted.iter().enumerate() {
            if *t == pattern::Tok::Lit(':') && parts.len() < 5 {
                parts.push(&wanted[start..i]);
                start = i + 1;
            }
        }
        parts.push(&wanted[start..]);
        parts
    };
    let split_val: Vec<&str> = value.splitn(6, ':').collect();
    split_pat.len() == 6
        && split_val.len() == 6
        && split_pat
            .iter()
            .zip(&split_val)
            .all(|(p, v)| pattern::matches(p, &pattern::known(v), false))
}

/// Is `value` (an address) inside `cidr` (`203.0.113.0/24`, `2001:db8::/32`, or one address)?
pub fn ip_in(cidr: &str, value: &str) -> bool {
    let Ok(ip) = value.trim().parse::<IpAddr>() else {
        return false;
    };
    let (net, bits) = match cidr.trim().split_once('/') {
        Some((n, b)) => match b.parse::<u32>() {
            Ok(b) => (n, Some(b)),
            Err(_) => return false,
        },
        None => (cidr.trim(), None),
    };
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let bits = bits.unwrap_or(32);
            bits <= 32 && prefix_equal(u128::from(u32::from(n)), u128::from(u32::from(a)), bits, 32)
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let bits = bits.unwrap_or(128);
            bits <= 128 && prefix_equal(u128::from(n), u128::from(a), bits, 128)
        }
        _ => false,
    }
}

fn prefix_equal(a: u128, b: u128, bits: u32, width: u32) -> bool {
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (a >> shift) == (b >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_parse_with_prefixes_and_suffixes() {
        let op = Operator::parse("ForAnyValue:StringLikeIfExists").unwrap();
        assert_eq!(
            op,
            Operator {
                base: Base::StringLike,
                set: SetOp::ForAnyValue,
                if_exists: true
            }
        );
        assert_eq!(Operator::parse("StringEqualz"), Err(OperatorError::Unknown));
        assert_eq!(Operator::parse("stringequals"), Err(OperatorError::Unknown));
        assert_eq!(
            Operator::parse("DateGreaterThan"),
            Err(OperatorError::Unsupported)
        );
    }

    #[test]
    fn cidrs_contain_addresses() {
        assert!(ip_in("203.0.113.0/24", "203.0.113.7"));
        assert!(!ip_in("203.0.113.0/24", "203.0.114.7"));
        assert!(ip_in("0.0.0.0/0", "8.8.8.8"));
        assert!(ip_in("192.0.2.1", "192.0.2.1"));
        assert!(ip_in("2001:db8::/32", "2001:db8:1::1"));
        assert!(!ip_in("2001:db8::/32", "192.0.2.1"));
        assert!(!ip_in("10.0.0.0/33", "10.0.0.1"));
        assert!(!ip_in("garbage", "10.0.0.1"));
    }
}
