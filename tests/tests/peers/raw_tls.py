# Sends raw bytes over mutual TLS and prints what came back, as JSON. Used by
# tests/tests/endpoint_peers.rs for what no MQTT library sends: a malformed packet.
import json
import socket
import ssl
import sys

plan = json.loads(sys.argv[1])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(plan["ca"])
ctx.load_cert_chain(plan["cert"], plan["key"])
ctx.check_hostname = False
sock = socket.create_connection(("127.0.0.1", plan["port"]), timeout=10)
try:
    tls = ctx.wrap_socket(sock, server_hostname=plan["sni"])
except (ssl.SSLError, OSError) as e:
    print(json.dumps({"handshake_error": str(e)}))
    sys.exit(0)
got = b""
for chunk in plan["send"]:
    tls.sendall(bytes.fromhex(chunk))
    try:
        data = tls.recv(4096)
    except (ssl.SSLError, OSError) as e:
        print(json.dumps({"got": got.hex(), "error": str(e)}))
        sys.exit(0)
    got += data
    if not data:
        break
if plan.get("until_close"):
    # Read until the endpoint closes (bounded, only to avoid a hang).
    tls.settimeout(plan.get("wait", 120))
    try:
        while True:
            data = tls.recv(4096)
            if not data:
                break
            got += data
    except (ssl.SSLError, OSError) as e:
        print(json.dumps({"got": got.hex(), "error": str(e)}))
        sys.exit(0)
print(json.dumps({"got": got.hex(), "closed": True}))
