//! The AWS IoT Core policy actions and the resource type each one is checked on
//! (`iot:Publish` on `topic/…`, `iot:Subscribe` on `topicfilter/…`).

/// Every action of an AWS IoT Core policy, with its resource type (`None`: the action's
/// resource is `*`).
pub const KNOWN: &[(&str, Option<&str>)] = &[
    ("iot:Connect", Some("client")),
    ("iot:Publish", Some("topic")),
    ("iot:Subscribe", Some("topicfilter")),
    ("iot:Receive", Some("topic")),
    ("iot:RetainPublish", Some("topic")),
    ("iot:GetRetainedMessage", Some("topic")),
    ("iot:ListRetainedMessages", None),
    ("iot:UpdateThingShadow", Some("thing")),
    ("iot:GetThingShadow", Some("thing")),
    ("iot:DeleteThingShadow", Some("thing")),
    ("iot:ListNamedShadowsForThing", None),
    ("iot:DescribeJobExecution", Some("thing")),
    ("iot:GetPendingJobExecutions", Some("thing")),
    ("iot:UpdateJobExecution", Some("thing")),
    ("iot:StartNextPendingJobExecution", Some("thing")),
    ("iot:AssumeRoleWithCertificate", Some("rolealias")),
];

/// The MQTT requests `policy check` evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Action {
    Connect,
    Publish,
    Subscribe,
    Receive,
    RetainPublish,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Connect => "iot:Connect",
            Action::Publish => "iot:Publish",
            Action::Subscribe => "iot:Subscribe",
            Action::Receive => "iot:Receive",
            Action::RetainPublish => "iot:RetainPublish",
        }
    }

    pub fn resource_type(self) -> &'static str {
        match self {
            Action::Connect => "client",
            Action::Publish | Action::Receive | Action::RetainPublish => "topic",
            Action::Subscribe => "topicfilter",
        }
    }
}

/// One request: an action on a client id, topic or topic filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub action: Action,
    /// The client id (Connect), topic (Publish, Receive, RetainPublish) or topic filter
    /// (Subscribe).
    pub name: String,
}

impl Request {
    pub fn new(action: Action, name: impl Into<String>) -> Request {
        Request {
            action,
            name: name.into(),
        }
    }
}
