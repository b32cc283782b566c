//! Arbitrary text as a policy, linted and evaluated for every action. A NUL splits the input:
//! the document first, then the resource name, then the client id.
#![no_main]
use iotscope_decoder::policy::{self, Action, Device, Request, Thing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let doc = parts.next().unwrap_or_default();
    let name = parts.next().unwrap_or("a/b");
    let client = parts.next().unwrap_or("c");
    let _ = policy::lint("fuzz", doc);
    let Ok(policies) = policy::parse_policies("fuzz", doc) else {
        return;
    };
    let device = Device {
        client_id: client.to_string(),
        thing: Some(Thing {
            name: client.to_string(),
            attached: true,
            ..Thing::default()
        }),
        source_ip: Some([192, 0, 2, 1].into()),
        ..Device::default()
    };
    for action in [
        Action::Connect,
        Action::Publish,
        Action::Subscribe,
        Action::Receive,
        Action::RetainPublish,
    ] {
        let _ = policy::evaluate(&policies, &device, &Request::new(action, name));
    }
});
