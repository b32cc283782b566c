# A paho-mqtt client driven by a JSON plan (argv[1]); prints one JSON object per event.
# Used by tests/tests/endpoint_peers.rs to see what a client we did not write sees.
import json
import queue
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

plan = json.loads(sys.argv[1])
v5 = plan.get("v", 4) == 5
events = queue.Queue()


def out(**kw):
    print(json.dumps(kw), flush=True)


def code(rc):
    return getattr(rc, "value", rc)


kwargs = {} if v5 else {"clean_session": plan.get("clean", True)}
c = mqtt.Client(
    mqtt.CallbackAPIVersion.VERSION2,
    client_id=plan["id"],
    protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    **kwargs,
)
c.tls_set(ca_certs=plan["ca"], certfile=plan["cert"], keyfile=plan["key"])
if plan.get("will"):
    c.will_set(plan["will"][0], plan["will"][1], qos=1)
c.tls_insecure_set(True)


def on_connect(cl, u, flags, rc, props):
    ka = getattr(props, "ServerKeepAlive", None) if props is not None else None
    expiry = getattr(props, "SessionExpiryInterval", None) if props is not None else None
    events.put(
        (
            "connack",
            {"rc": code(rc), "present": bool(flags.session_present), "keep_alive": ka, "expiry": expiry},
        )
    )


def on_subscribe(cl, u, mid, rcs, props):
    events.put(("suback", {"codes": [code(r) for r in rcs]}))


def on_publish(cl, u, mid, rc, props):
    events.put(("puback", {"rc": code(rc)}))


def on_message(cl, u, msg):
    events.put(("message", {"topic": msg.topic, "retain": bool(msg.retain)}))


def on_disconnect(cl, u, flags, rc, props):
    events.put(("disconnect", {"rc": code(rc)}))


c.on_connect = on_connect
c.on_subscribe = on_subscribe
c.on_publish = on_publish
c.on_message = on_message
c.on_disconnect = on_disconnect


def wait(kind, seconds=5):
    end = time.time() + seconds
    while time.time() < end:
        try:
            k, v = events.get(timeout=0.1)
        except queue.Empty:
            continue
        out(event=k, **v)
        if k == kind or k == "disconnect":
            return k
    out(event="timeout", waiting=kind)
    return None


props = None
if v5 and plan.get("expiry"):
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = plan["expiry"]
connect_args = {"keepalive": plan.get("ka", 60), "properties": props}
if v5:
    connect_args["clean_start"] = plan.get("clean", True)
c.connect(plan["host"], plan["port"], **connect_args)
c.loop_start()
if wait("connack") == "connack":
    for step in plan.get("steps", []):
        if step[0] == "sub":
            c.subscribe(step[1], qos=1)
            if wait("suback") != "suback":
                break
        elif step[0] == "pub":
            retain = step[4] if len(step) > 4 else False
            c.publish(step[1], step[2], qos=step[3], retain=retain)
            if step[3] > 0:
                if wait("puback") != "puback":
                    break
            else:
                time.sleep(0.3)
        elif step[0] == "recv":
            wait("message", step[1] if len(step) > 1 else 5)
        elif step[0] == "hold":
            if wait("disconnect", step[1]) == "disconnect":
                break
    if plan.get("disconnect", True):
        c.disconnect()
time.sleep(0.3)
c.loop_stop()
