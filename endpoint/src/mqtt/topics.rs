//! Topic names and filters as AWS IoT Core checks and matches them.
//!
//! Sources: the quotas page (256 bytes, 7 slashes, both without the Basic Ingest prefix
//! `$aws/rules/<rule-name>/`), the MQTT page (topics starting with `$` are reserved, AWS's own
//! such as the shadow's excepted; `sensor/#` does not match `sensor`, unlike the MQTT spec),
//! and the policy page for wildcard subscriptions not getting retained messages.

use crate::limits::{MAX_SLASHES, MAX_TOPIC};

/// Why a topic or filter is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Bad {
    /// Too long, too deep, empty, or a wildcard where none may be.
    Invalid(String),
    /// A `$` topic a device may not publish to.
    Reserved(String),
}

/// The part the limits count: without the Basic Ingest prefix.
fn counted(topic: &str) -> &str {
    if let Some(rest) = topic.strip_prefix("$aws/rules/") {
        if let Some((_, after)) = rest.split_once('/') {
            return after;
        }
    }
    topic
}

fn limits(what: &str, s: &str) -> Result<(), Bad> {
    if s.is_empty() {
        return Err(Bad::Invalid(format!("the {what} is empty")));
    }
    let c = counted(s);
    if c.len() > MAX_TOPIC {
        return Err(Bad::Invalid(format!(
            "the {what} is {} bytes; AWS IoT Core allows {MAX_TOPIC}",
            c.len()
        )));
    }
    let slashes = c.matches('/').count();
    if slashes > MAX_SLASHES {
        return Err(Bad::Invalid(format!(
            "the {what} has {slashes} slashes; AWS IoT Core allows {MAX_SLASHES}"
        )));
    }
    Ok(())
}

/// The `$aws/` topics AWS IoT Core serves that a device may publish to: a thing's shadow and
/// jobs topics, and Basic Ingest (`$aws/rules/…`). Any other `$` topic is reserved.
fn aws_topic_open(topic: &str) -> bool {
    if let Some(rest) = topic.strip_prefix("$aws/things/") {
        let mut parts = rest.splitn(3, '/');
        let (_thing, kind) = (parts.next(), parts.next());
        return matches!(kind, Some("shadow") | Some("jobs") | Some("tunnels"));
    }
    topic.starts_with("$aws/rules/")
}

/// A PUBLISH's topic name.
pub fn check_topic(topic: &str) -> Result<(), Bad> {
    limits("topic", topic)?;
    if topic.contains(['+', '#']) {
        return Err(Bad::Invalid(
            "a topic name holds a wildcard (+ or #)".into(),
        ));
    }
    if topic.starts_with('$') && !aws_topic_open(topic) {
        return Err(Bad::Reserved(format!(
            "topics that start with $ are reserved for AWS IoT Core; {topic} is not one a device may publish to"
        )));
    }
    Ok(())
}

/// A SUBSCRIBE's topic filter: wildcards only as whole levels, `#` last.
pub fn check_filter(filter: &str) -> Result<(), Bad> {
    limits("topic filter", filter)?;
    let levels: Vec<&str> = filter.split('/').collect();
    for (i, l) in levels.iter().enumerate() {
        if l.contains('#') && (*l != "#" || i + 1 != levels.len()) {
            return Err(Bad::Invalid("# may only be a whole last level".into()));
        }
        if l.contains('+') && *l != "+" {
            return Err(Bad::Invalid("+ may only be a whole level".into()));
        }
    }
    Ok(())
}

pub fn is_wildcard(filter: &str) -> bool {
    filter.contains(['+', '#'])
}

/// Whether `filter` matches `topic`. AWS IoT Core differs from the MQTT spec in one place:
/// `a/#` does not match `a` itself (reference §4). Wildcards do not match `$` topics at the
/// first level (MQTT 4.7.2).
pub fn matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), Some(_)) => return true,
            (Some("#"), None) => return false,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_quotas_page() {
        assert!(check_topic(&"a".repeat(256)).is_ok());
        assert!(matches!(
            check_topic(&"a".repeat(257)),
            Err(Bad::Invalid(_))
        ));
        assert!(check_topic("1/2/3/4/5/6/7/8").is_ok());
        assert!(matches!(
            check_topic("1/2/3/4/5/6/7/8/9"),
            Err(Bad::Invalid(_))
        ));
        // The Basic Ingest prefix is not counted.
        assert!(check_topic("$aws/rules/r/1/2/3/4/5/6/7/8").is_ok());
        assert!(matches!(
            check_topic("$aws/events/presence/connected/x"),
            Err(Bad::Reserved(_))
        ));
        assert!(check_topic("$aws/things/t1/shadow/update").is_ok());
        assert!(matches!(check_topic("a/+"), Err(Bad::Invalid(_))));
    }

    #[test]
    fn matching_as_aws_does() {
        assert!(matches("a/+/c", "a/b/c"));
        assert!(matches("sensor/#", "sensor/x/y"));
        assert!(!matches("sensor/#", "sensor"));
        assert!(!matches("#", "$aws/things/x"));
        assert!(!matches("a/b", "a/b/c"));
        assert!(check_filter("a/#/b").is_err());
        assert!(check_filter("a/b+").is_err());
    }
}
