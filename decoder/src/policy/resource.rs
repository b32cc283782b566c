//! The ARN a request is checked on: `arn:aws:iot:<region>:<account>:topic/<topic>`. A
//! region or account iotscope was not given stays unknown: only a `*` in the policy can
//! stand for it, never a literal region, so no answer rests on a guess.

use super::actions::Request;
use super::device::{self, Device};
use super::pattern::Sub;

/// The request's ARN as matchable pieces.
pub fn subject(device: &Device, request: &Request) -> Vec<Sub> {
    let mut out = Vec::new();
    let text = |out: &mut Vec<Sub>, s: &str| out.extend(s.chars().map(Sub::Char));
    text(&mut out, "arn:");
    text(&mut out, device::partition(device.region.as_deref()));
    text(&mut out, ":iot:");
    match &device.region {
        Some(r) => text(&mut out, r),
        None => out.push(Sub::Unknown),
    }
    out.push(Sub::Char(':'));
    match &device.account {
        Some(a) => text(&mut out, a),
        None => out.push(Sub::Unknown),
    }
    out.push(Sub::Char(':'));
    text(&mut out, request.action.resource_type());
    out.push(Sub::Char('/'));
    text(&mut out, &request.name);
    out
}

/// The ARN as people read it, unknown parts as `<region>` and `<account>`.
pub fn display(device: &Device, request: &Request) -> String {
    format!(
        "arn:{}:iot:{}:{}:{}/{}",
        device::partition(device.region.as_deref()),
        device.region.as_deref().unwrap_or("<region>"),
        device.account.as_deref().unwrap_or("<account>"),
        request.action.resource_type(),
        request.name
    )
}
