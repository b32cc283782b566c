# The AWS IoT Device SDK v2 for Python (awsiot, on the AWS common runtime) driven by a JSON
# plan (argv[1]); prints one JSON object per event. Used by tests/tests/endpoint_peers.rs.
import json
import sys
import threading

from awscrt import mqtt
from awsiot import mqtt_connection_builder

plan = json.loads(sys.argv[1])
lock = threading.Lock()


def out(**kw):
    with lock:
        print(json.dumps(kw), flush=True)


def interrupted(connection, error, **kwargs):
    out(event="interrupted", error=getattr(error, "name", str(error)))


conn = mqtt_connection_builder.mtls_from_path(
    endpoint=plan["host"],
    port=plan["port"],
    cert_filepath=plan["cert"],
    pri_key_filepath=plan["key"],
    ca_filepath=plan["ca"],
    client_id=plan["id"],
    clean_session=True,
    keep_alive_secs=30,
    on_connection_interrupted=interrupted,
)
try:
    r = conn.connect().result(15)
    out(event="connack", present=bool(r["session_present"]))
except Exception as e:
    out(event="connect_failed", error=getattr(e, "name", str(e)))
    sys.exit(0)
for step in plan.get("steps", []):
    if step[0] == "pub":
        future, _ = conn.publish(step[1], b"hello", mqtt.QoS.AT_LEAST_ONCE)
        try:
            future.result(5)
            out(event="puback")
        except Exception as e:
            out(event="publish_failed", error=getattr(e, "name", str(e)))
try:
    conn.disconnect().result(5)
except Exception as e:
    out(event="disconnect_failed", error=getattr(e, "name", str(e)))
