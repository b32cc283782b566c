#!/usr/bin/env bash
# Regenerates the bundled sample captures in this directory.
#
# Every byte in the captures comes from third-party programs: mosquitto (the endpoint),
# mosquitto_pub (the device) and OpenSSL underneath both. This script only builds a throwaway
# PKI, starts the broker, runs the clients, records what they did, and asks tshark what is on
# the wire. Nothing here is iotscope code, so the samples can be used to check iotscope.
#
# Usage: sudo captures/samples/make.sh        (root: tcpdump on lo and a private mount namespace)
#
# Everything stays on 127.0.0.1:18883. Re-running replaces every NN_* file in this directory.
set -euo pipefail

OUT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ENDPOINT="abc123example-ats.iot.us-east-1.amazonaws.com"
PORT=18883
DEVICE="sample-device"
CLIENT_TIMEOUT=20

die() { echo "make.sh: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (tcpdump on lo, and unshare/mount for name resolution)"

# ---------------------------------------------------------------------------------------------
# Packages. gcc/libc6-dev only build the tiny key-log shim below; tshark writes the facts files.
# ---------------------------------------------------------------------------------------------
need_pkgs=()
for pair in mosquitto:mosquitto mosquitto_pub:mosquitto-clients openssl:openssl \
    tcpdump:tcpdump python3:python3 tshark:tshark cc:gcc unshare:util-linux; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || need_pkgs+=("${pair#*:}")
done
[[ -e /usr/include/dlfcn.h ]] || need_pkgs+=(libc6-dev)
if ((${#need_pkgs[@]})); then
    echo "installing: ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "something already listens on 127.0.0.1:$PORT"
fi

WORK="$(mktemp -d /tmp/iotscope-samples.XXXXXX)"
chmod 755 "$WORK"
BROKER_PID=""
TCPDUMP_PID=""
cleanup() {
    # Only the processes this script started, by their pid.
    if [[ -n "$TCPDUMP_PID" ]]; then kill -TERM "$TCPDUMP_PID" 2>/dev/null || true; wait "$TCPDUMP_PID" 2>/dev/null || true; fi
    if [[ -n "$BROKER_PID" ]]; then kill -TERM "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
# 1. Throwaway PKI
#    endpoint side: RSA 2048 (like Amazon Root CA 1 and the ATS endpoint certificates)
#    device side:   EC P-256 (AWS IoT accepts ECDSA device certificates too)
# ---------------------------------------------------------------------------------------------
PKI="$WORK/pki"
mkdir -p "$PKI/ca/newcerts"
: >"$PKI/ca/index.txt"
echo 1000 >"$PKI/ca/serial"

self_signed_ca() { # name key-args subject
    local name=$1 keyargs=$2 subj=$3
    # shellcheck disable=SC2086
    openssl req -x509 -new -nodes $keyargs -keyout "$PKI/$name.key" -out "$PKI/$name.pem" \
        -sha256 -days 7300 -subj "$subj" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
self_signed_ca endpoint-root "-newkey rsa:2048" "/C=US/O=iotscope Samples/CN=iotscope Sample Endpoint Root CA"
self_signed_ca device-ca "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1" "/C=US/O=iotscope Sample Devices/CN=iotscope Sample Device CA"
self_signed_ca untrusted-root "-newkey rsa:2048" "/C=US/O=iotscope Elsewhere/CN=iotscope Sample Untrusted Root CA"

cat >"$PKI/endpoint.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$ENDPOINT,DNS:*.iot.us-east-1.amazonaws.com
EOF
openssl req -new -nodes -newkey rsa:2048 -keyout "$PKI/endpoint.key" -out "$PKI/endpoint.csr" \
    -subj "/CN=$ENDPOINT" 2>/dev/null
openssl x509 -req -in "$PKI/endpoint.csr" -CA "$PKI/endpoint-root.pem" -CAkey "$PKI/endpoint-root.key" \
    -set_serial 0x5a4d9001 -sha256 -days 395 -extfile "$PKI/endpoint.ext" -out "$PKI/endpoint.pem" 2>/dev/null

# Device certificates go through `openssl ca`, because OpenSSL 3.0's `x509 -req` cannot set a
# notBefore/notAfter in the past (-not_before/-not_after arrived in 3.4); `ca -startdate/-enddate` can.
cat >"$PKI/ca.cnf" <<EOF
[ca]
default_ca = device_ca
[device_ca]
dir = $PKI/ca
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
serial = \$dir/serial
certificate = $PKI/device-ca.pem
private_key = $PKI/device-ca.key
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
[policy_any]
organizationName = optional
commonName = supplied
[device_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
EOF
device_cert() { # name cn startdate enddate
    local name=$1 cn=$2
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -keyout "$PKI/$name.key" -out "$PKI/$name.csr" -subj "/O=iotscope Sample Devices/CN=$cn" 2>/dev/null
    openssl ca -batch -notext -config "$PKI/ca.cnf" -extensions device_ext \
        -startdate "$3" -enddate "$4" -in "$PKI/$name.csr" -out "$PKI/$name.pem" 2>/dev/null
}
utc() { date -u -d "$1" +%Y%m%d%H%M%SZ; }
device_cert device "$DEVICE" "$(utc '-1 day')" "$(utc '+10 years')"
# Expired 30 days before the capture; same CN, so only the dates are wrong.
device_cert expired-device "$DEVICE" "$(utc '-395 days')" "$(utc '-30 days')"

PKI_INVENTORY=()
for c in endpoint-root device-ca untrusted-root endpoint device expired-device; do
    PKI_INVENTORY+=("$(printf '%-15s %s | issuer: %s | %s .. %s' "$c" \
        "$(openssl x509 -in "$PKI/$c.pem" -noout -subject -nameopt oneline | sed 's/^subject=//')" \
        "$(openssl x509 -in "$PKI/$c.pem" -noout -issuer -nameopt oneline | sed 's/^issuer=//')" \
        "$(openssl x509 -in "$PKI/$c.pem" -noout -startdate | cut -d= -f2)" \
        "$(openssl x509 -in "$PKI/$c.pem" -noout -enddate | cut -d= -f2)")")
done
chmod 644 "$PKI"/*.key # throwaway keys; the broker may read them after dropping to user mosquitto

# ---------------------------------------------------------------------------------------------
# Key-log shim: OpenSSL 3.0 has no SSLKEYLOGFILE support and mosquitto_pub no key-log option, so
# a preloaded SSL_new() registers OpenSSL's own keylog callback on the context. It only copies the
# secrets OpenSSL hands it into the file; it does not change any byte on the wire.
# ---------------------------------------------------------------------------------------------
cat >"$WORK/keylog_shim.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef void (*keylog_cb_t)(const SSL *, const char *);

static void append_line(const SSL *ssl, const char *line)
{
    (void)ssl;
    const char *path = getenv("SSLKEYLOGFILE");
    if (path == NULL || *path == '\0')
        return;
    FILE *f = fopen(path, "a");
    if (f == NULL)
        return;
    fprintf(f, "%s\n", line);
    fclose(f);
}

SSL *SSL_new(SSL_CTX *ctx)
{
    static SSL *(*real_new)(SSL_CTX *);
    static void (*set_keylog)(SSL_CTX *, keylog_cb_t);
    if (real_new == NULL)
        real_new = (SSL *(*)(SSL_CTX *))dlsym(RTLD_NEXT, "SSL_new");
    if (set_keylog == NULL)
        set_keylog = (void (*)(SSL_CTX *, keylog_cb_t))dlsym(RTLD_NEXT, "SSL_CTX_set_keylog_callback");
    if (ctx != NULL && set_keylog != NULL)
        set_keylog(ctx, append_line);
    return real_new != NULL ? real_new(ctx) : NULL;
}
EOF
cc -shared -fPIC -O2 -o "$WORK/keylog_shim.so" "$WORK/keylog_shim.c" -ldl

# ---------------------------------------------------------------------------------------------
# Name resolution for the device.
# The device must connect by name so that its ClientHello carries the endpoint name as SNI.
# Chosen: a private mount namespace per client run (`unshare --mount`) in which a hosts file
# mapping the name to 127.0.0.1 is bind-mounted over /etc/hosts. The machine's /etc/hosts is
# never edited, so nothing is left behind if this script is killed, and other programs on the
# machine never see the fake name. The network namespace is shared, so tcpdump on lo sees it all.
# ---------------------------------------------------------------------------------------------
{ cat /etc/hosts; echo "127.0.0.1 $ENDPOINT"; } >"$WORK/hosts"
as_device() { # command...: run with the endpoint name resolving to 127.0.0.1
    unshare --mount --propagation private -- \
        sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$WORK/hosts" "$@"
}

# ---------------------------------------------------------------------------------------------
# 2. The endpoint: mosquitto with mutual TLS, identity from the certificate, and an ACL.
# ---------------------------------------------------------------------------------------------
BROKER_LOG="$WORK/broker.log"
: >"$BROKER_LOG"
chmod 666 "$BROKER_LOG"
cat >"$WORK/acl" <<EOF
user $DEVICE
topic readwrite devices/$DEVICE/#
EOF
cat >"$WORK/mosquitto.conf" <<EOF
persistence false
log_dest file $BROKER_LOG
log_type all
log_timestamp true
log_timestamp_format %Y-%m-%dT%H:%M:%S
listener $PORT 127.0.0.1
cafile $PKI/device-ca.pem
certfile $PKI/endpoint.pem
keyfile $PKI/endpoint.key
require_certificate true
use_identity_as_username true
tls_version tlsv1.2
acl_file $WORK/acl
EOF
chmod 644 "$WORK/acl" "$WORK/mosquitto.conf"
mosquitto -c "$WORK/mosquitto.conf" >"$WORK/broker.stdout" 2>&1 &
BROKER_PID=$!
for _ in $(seq 50); do
    grep -q "listen socket on port $PORT" "$BROKER_LOG" && break
    kill -0 "$BROKER_PID" 2>/dev/null || { cat "$WORK/broker.stdout" "$BROKER_LOG" >&2; die "mosquitto exited"; }
    sleep 0.1
done
grep -q "listen socket on port $PORT" "$BROKER_LOG" || die "mosquitto did not open port $PORT"

# ---------------------------------------------------------------------------------------------
# 3-5. One capture per scenario, plus the facts observed for it.
# ---------------------------------------------------------------------------------------------
rm -f "$OUT"/[0-9][0-9]_*.pcap "$OUT"/[0-9][0-9]_*.keys "$OUT"/[0-9][0-9]_*.facts.json

# Facts builder: client result, broker log lines, and tshark's reading with and without keys.
cat >"$WORK/facts.py" <<'PYEOF'
import json, shlex, subprocess, sys

(sid, intent, pcap, keys, port, work, out, client_name, cmd_json, rc, stdout_f, stderr_f,
 broker_f, plain) = sys.argv[1:15]
port = int(port)

HS = {0: "hello_request", 1: "client_hello", 2: "server_hello", 4: "new_session_ticket",
      8: "encrypted_extensions", 11: "certificate", 12: "server_key_exchange",
      13: "certificate_request", 14: "server_hello_done", 15: "certificate_verify",
      16: "client_key_exchange", 20: "finished", 24: "key_update"}
ALERT = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
         40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
         44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
         47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied", 50: "decode_error",
         51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security",
         80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
         109: "missing_extension", 112: "unrecognized_name", 116: "certificate_required",
         120: "no_application_protocol"}
RECORD = {20: "change_cipher_spec", 21: "alert", 22: "handshake", 23: "application_data"}
MQTT = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL",
        7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
        12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH"}
VERSIONS = {0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3"}
FIELDS = ["frame.number", "frame.time_relative", "tcp.srcport", "tcp.flags", "tcp.len",
          "tls.record.content_type", "tls.record.opaque_type", "tls.handshake.type",
          "tls.handshake.extensions_server_name", "tls.handshake.version",
          "tls.handshake.extensions.supported_version", "tls.handshake.ciphersuite",
          "tls.handshake.certificates_length", "tls.handshake.certificate_length",
          "tls.alert_message.level", "tls.alert_message.desc",
          "mqtt.msgtype", "mqtt.ver", "mqtt.clientid", "mqtt.topic", "mqtt.qos", "mqtt.msgid",
          "mqtt.conack.val", "mqtt.connack.reason_code", "mqtt.puback.reason_code"]


def ints(v):
    out = []
    for x in v.split(",") if v else []:
        try:
            out.append(int(x, 0))
        except ValueError:
            pass
    return out


def tshark(keyfile):
    args = ["tshark", "-r", pcap, "-T", "fields", "-E", "separator=\t", "-E", "aggregator=,",
            "-E", "occurrence=a"]
    if plain == "1":
        args += ["-d", f"tcp.port=={port},mqtt"]
    else:
        args += ["-d", f"tcp.port=={port},tls", "-d", f"tls.port=={port},mqtt"]
    if keyfile:
        args += ["-o", f"tls.keylog_file:{keyfile}"]
    for f in FIELDS:
        args += ["-e", f]
    res = subprocess.run(args, capture_output=True, text=True, check=True)
    rows = []
    for line in res.stdout.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        rows.append(dict(zip(FIELDS, cols)))
    return rows


def flags(v):
    f = int(v, 16) if v else 0
    return "".join(c for bit, c in ((0x02, "S"), (0x01, "F"), (0x04, "R"), (0x08, "P"), (0x10, "A")) if f & bit)


def view(rows, decrypted):
    frames, alerts, mqtt, seen_levels = [], [], [], []
    hs = {"client": [], "broker": []}
    certs = {"client": [], "broker": []}
    sni, offered, negotiated, cipher = None, None, None, None
    fin_from, rst_from = [], []
    for r in rows:
        side = "broker" if r["tcp.srcport"] == str(port) else "client"
        n = int(r["frame.number"])
        fl = flags(r["tcp.flags"])
        if "F" in fl and side not in fin_from:
            fin_from.append(side)
        if "R" in fl and side not in rst_from:
            rst_from.append(side)
        fr = {"frame": n, "t": round(float(r["frame.time_relative"]), 6), "from": side,
              "tcp": fl, "len": int(r["tcp.len"] or 0)}
        clear = [RECORD.get(c, c) for c in ints(r["tls.record.content_type"])]
        opaque = len(ints(r["tls.record.opaque_type"]))
        if clear:
            fr["tls_records"] = clear
        if opaque and not decrypted:
            fr["tls_encrypted_records"] = opaque
        types = [HS.get(t, t) for t in ints(r["tls.handshake.type"])]
        if types:
            fr["handshake"] = types
            hs[side] += types
        if "certificate" in types and r["tls.handshake.certificates_length"]:
            # lengths of the DER certificates in the Certificate message; [] is an empty one
            fr["certificates"] = ints(r["tls.handshake.certificate_length"])
            certs[side].append({"frame": n, "der_lengths": fr["certificates"]})
        if r["tls.handshake.extensions_server_name"]:
            sni = r["tls.handshake.extensions_server_name"]
            fr["sni"] = sni
        sv = ints(r["tls.handshake.extensions.supported_version"])
        if "client_hello" in types:
            offered = [VERSIONS.get(v, hex(v)) for v in sv] or \
                [VERSIONS.get(v, hex(v)) for v in ints(r["tls.handshake.version"])]
        if "server_hello" in types:
            v = sv[0] if sv else (ints(r["tls.handshake.version"]) or [None])[0]
            negotiated = VERSIONS.get(v, v)
            cs = ints(r["tls.handshake.ciphersuite"])
            cipher = f"0x{cs[0]:04x}" if cs else None
        for lvl, d in zip(ints(r["tls.alert_message.level"]), ints(r["tls.alert_message.desc"])):
            a = {"frame": n, "from": side, "level": "fatal" if lvl == 2 else "warning",
                 "description": ALERT.get(d, str(d)), "code": d}
            alerts.append(a)
            fr.setdefault("alerts", []).append(a["description"])
        mt = ints(r["mqtt.msgtype"])
        if mt:
            ver = ints(r["mqtt.ver"])
            topics = r["mqtt.topic"].split(",") if r["mqtt.topic"] else []
            conack = ints(r["mqtt.conack.val"]) or ints(r["mqtt.connack.reason_code"])
            qos = ints(r["mqtt.qos"])
            puback = ints(r["mqtt.puback.reason_code"])
            msgids = ints(r["mqtt.msgid"])
            for t in mt:
                p = {"frame": n, "from": side, "type": MQTT.get(t, t)}
                if t == 1:
                    seen_levels.extend(ver[:1])
                    if ver:
                        p["protocol_level"] = ver[0]
                    if r["mqtt.clientid"]:
                        p["client_id"] = r["mqtt.clientid"]
                if t == 2 and conack:
                    p["reason_code" if 5 in seen_levels else "return_code"] = conack.pop(0)
                if t == 3 and qos:
                    p["qos"] = qos.pop(0)
                if t == 3 and topics:
                    p["topic"] = topics.pop(0)
                if t in (3, 4) and msgids:
                    p["msgid"] = msgids.pop(0)
                if t == 4 and puback:
                    p["reason_code"] = puback.pop(0)
                mqtt.append(p)
            fr["mqtt"] = [MQTT.get(t, t) for t in mt]
        frames.append(fr)
    v = {"sni": sni, "client_offered_versions": offered, "negotiated_version": negotiated,
         "cipher_suite": cipher, "handshake": hs, "certificate_messages": certs,
         "alerts": alerts, "mqtt": mqtt,
         "tcp": {"fin_from": fin_from, "rst_from": rst_from,
                 "payload_bytes": {s: sum(f["len"] for f in frames if f["from"] == s)
                                   for s in ("client", "broker")}},
         "frames": frames}
    if plain == "1":
        for k in ("sni", "client_offered_versions", "negotiated_version", "cipher_suite", "handshake",
                  "certificate_messages", "alerts"):
            v.pop(k)
    return v


def lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return [l.rstrip("\n").replace(work, "$WORK") for l in f if l.strip()]


cmd = shlex.join(c.replace(work, "$WORK") for c in json.loads(cmd_json))
facts = {
    "id": sid,
    "intent": intent,
    "pcap": f"{sid}.pcap",
    "keys": f"{sid}.keys" if keys else None,
    "client": {"program": client_name, "command": cmd,
               "run_as": "unshare --mount (endpoint name -> 127.0.0.1 via a bind-mounted hosts file), "
                         "LD_PRELOAD=$WORK/keylog_shim.so SSLKEYLOGFILE=" + sid + ".keys",
               "exit_code": int(rc),
               "stdout": lines(stdout_f), "stderr": lines(stderr_f)},
    "broker_log": lines(broker_f),
    "tshark_wire": view(tshark(None), False),
}
if keys:
    dec = view(tshark(keys), True)
    dec.pop("frames")  # the per-frame list is in tshark_wire; keeps the file compact
    facts["tshark_with_keys"] = dec


def compact(obj, depth=0):
    """JSON with one line per list item, so a frame or a log line stays on one line."""
    pad = " " * depth
    if isinstance(obj, dict) and depth < 3:
        items = [f'{pad} {json.dumps(k)}: {compact(v, depth + 1)}' for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and obj and depth < 3:
        return "[\n" + ",\n".join(pad + "  " + json.dumps(x, ensure_ascii=False) for x in obj) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)


with open(f"{out}/{sid}.facts.json", "w", encoding="utf-8") as f:
    f.write(compact(facts) + "\n")
PYEOF

CLIENT_NAME="mosquitto_pub $(mosquitto_pub --help 2>/dev/null | sed -n 's/^mosquitto_pub version \([^ ]*\).*/\1/p' | head -1) ($(openssl version | cut -d' ' -f1-2))"

# tcpdump reports "listening on" slightly before its SIGINT handler is in place, and a
# background job of a script starts with SIGINT ignored, so an early SIGINT can be lost:
# wait a little after the message, and repeat SIGINT until it has exited.
start_tcpdump() { # pcap errfile
    tcpdump -i lo -U -n -Z root -w "$1" "tcp port $PORT" 2>"$2" &
    TCPDUMP_PID=$!
    for _ in $(seq 300); do
        grep -q "listening on" "$2" && break
        kill -0 "$TCPDUMP_PID" 2>/dev/null || die "tcpdump exited: $(cat "$2")"
        sleep 0.1
    done
    grep -q "listening on" "$2" || die "tcpdump did not report listening within 30 s: $(cat "$2")"
    sleep 0.5
}
stop_tcpdump() {
    local i
    for i in $(seq 100); do
        kill -0 "$TCPDUMP_PID" 2>/dev/null || break
        if ((i % 10 == 1)); then kill -INT "$TCPDUMP_PID" 2>/dev/null || true; fi
        sleep 0.1
    done
    if kill -0 "$TCPDUMP_PID" 2>/dev/null; then kill -TERM "$TCPDUMP_PID" 2>/dev/null || true; fi
    wait "$TCPDUMP_PID" 2>/dev/null || true
    TCPDUMP_PID=""
}

# run_scenario ID PLAIN(0|1) INTENT -- client args...
# Captures one client run. The client's stdout/stderr, exit code, the broker log lines written
# during the run, and tshark's view of the capture go into ID.facts.json.
run_scenario() {
    local id=$1 plain=$2 intent=$3
    shift 4
    local pcap="$OUT/$id.pcap" keys="$OUT/$id.keys" rc=0
    echo "== $id"
    rm -f "$keys"
    start_tcpdump "$pcap" "$WORK/$id.tcpdump.err"
    local log_from
    log_from=$(($(stat -c %s "$BROKER_LOG") + 1))

    as_device env LD_PRELOAD="$WORK/keylog_shim.so" SSLKEYLOGFILE="$keys" \
        timeout "$CLIENT_TIMEOUT" "$@" >"$WORK/client.out" 2>"$WORK/client.err" || rc=$?

    sleep 1 # let the last FIN/RST reach the capture and the broker finish its log lines
    stop_tcpdump
    tail -c +"$log_from" "$BROKER_LOG" >"$WORK/broker.part"
    [[ -s "$keys" ]] || rm -f "$keys"

    local cmd_json
    cmd_json=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@")
    python3 "$WORK/facts.py" "$id" "$intent" "$pcap" "$([[ -e $keys ]] && echo "$keys" || true)" \
        "$PORT" "$WORK" "$OUT" "$CLIENT_NAME" "$cmd_json" "$rc" \
        "$WORK/client.out" "$WORK/client.err" "$WORK/broker.part" "$plain"
    echo "   client exit $rc, $(stat -c %s "$pcap") bytes captured"
}

# mosquitto_pub 2.0.11's `--tls-version tlsv1.2` only sets the lowest version (the client still
# offers and gets TLS 1.3), so TLS 1.2 is forced through OpenSSL's own configuration file:
# MaxProtocol in the system_default section applies to every SSL_CTX the client creates.
cat >"$WORK/tls12.cnf" <<'CNF'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_section
[ssl_section]
system_default = system_default_section
[system_default_section]
MaxProtocol = TLSv1.2
CNF
TLS12=(env "OPENSSL_CONF=$WORK/tls12.cnf")

PUB=(mosquitto_pub -d -h "$ENDPOINT" -p "$PORT" -i "$DEVICE" -q 1)
GOOD=(--cafile "$PKI/endpoint-root.pem" --cert "$PKI/device.pem" --key "$PKI/device.key")
TOPIC=(-t "devices/$DEVICE/telemetry" -m '{"temp":21.5}')

run_scenario 01_success_tls13 0 \
    "MQTT 3.1.1 publish QoS 1 over TLS 1.3 with a valid device certificate" -- \
    "${PUB[@]}" "${GOOD[@]}" -V mqttv311 "${TOPIC[@]}"

run_scenario 02_success_mqtt5_tls12 0 \
    "MQTT 5 publish QoS 1 over TLS 1.2 (client capped at TLS 1.2) with a valid device certificate" -- \
    "${TLS12[@]}" "${PUB[@]}" "${GOOD[@]}" -V mqttv5 "${TOPIC[@]}"

run_scenario 03_no_client_cert_tls12 0 \
    "device presents no client certificate, TLS 1.2; the endpoint requires one" -- \
    "${TLS12[@]}" "${PUB[@]}" --cafile "$PKI/endpoint-root.pem" -V mqttv311 "${TOPIC[@]}"

run_scenario 04_untrusted_endpoint_ca 0 \
    "device trusts only an unrelated root CA, so it cannot verify the endpoint certificate" -- \
    "${PUB[@]}" --cafile "$PKI/untrusted-root.pem" --cert "$PKI/device.pem" --key "$PKI/device.key" \
    -V mqttv311 "${TOPIC[@]}"

run_scenario 05_expired_client_cert_tls12 0 \
    "device presents a certificate that expired 30 days ago, TLS 1.2" -- \
    "${TLS12[@]}" "${PUB[@]}" --cafile "$PKI/endpoint-root.pem" --cert "$PKI/expired-device.pem" \
    --key "$PKI/expired-device.key" -V mqttv311 "${TOPIC[@]}"

run_scenario 06_plain_mqtt_to_tls_port 1 \
    "device speaks plain MQTT 3.1.1 (no TLS) to the TLS port" -- \
    "${PUB[@]}" -V mqttv311 "${TOPIC[@]}"

run_scenario 07_publish_denied_mqtt5 0 \
    "MQTT 5 publish QoS 1 to devices/other/telemetry, outside the device's ACL, over TLS 1.3" -- \
    "${PUB[@]}" "${GOOD[@]}" -V mqttv5 -t devices/other/telemetry -m '{"temp":99}'

# ---------------------------------------------------------------------------------------------
# 6. README: what each sample shows, checked against what was observed.
# ---------------------------------------------------------------------------------------------
{
    echo "mosquitto: $(mosquitto -h 2>/dev/null | head -1)"
    echo "mosquitto_pub: $(mosquitto_pub --help 2>/dev/null | grep -m1 "version")"
    echo "openssl: $(openssl version)"
    tcpdump --version 2>&1 | sed 's/^/tcpdump --version: /'
    echo "tshark: $(tshark --version 2>/dev/null | head -1)"
    echo "debian: $(. /etc/os-release && echo "$PRETTY_NAME")"
    dpkg-query -W -f 'package: ${Package} ${Version}\n' mosquitto mosquitto-clients openssl tcpdump tshark 2>/dev/null || true
} >"$WORK/versions.txt"
printf '%s\n' "${PKI_INVENTORY[@]}" >"$WORK/pki.txt"

python3 - "$OUT" "$WORK/versions.txt" "$WORK/pki.txt" "$ENDPOINT" <<'PYEOF'
import glob, json, os, sys

out, versions_f, pki_f, endpoint = sys.argv[1:5]
versions = open(versions_f).read().rstrip("\n")
pki = open(pki_f).read().rstrip("\n")
facts = {os.path.basename(p)[: -len(".facts.json")]: json.load(open(p))
         for p in sorted(glob.glob(f"{out}/[0-9][0-9]_*.facts.json"))}


def wire(f):
    return f["tshark_wire"]


def keyed(f):
    return f.get("tshark_with_keys") or {}


def alerts(v, side=None):
    return [a["description"] for a in v.get("alerts") or []
            if a["description"] != "close_notify" and (side is None or a["from"] == side)]


def mqtt(v, typ):
    return [p for p in v.get("mqtt") or [] if p["type"] == typ]


# What each scenario is meant to show, and the observation that proves it happened.
CHECKS = {
    "01_success_tls13": lambda f: wire(f)["negotiated_version"] == "TLS 1.3" and f["client"]["exit_code"] == 0
        and [p.get("return_code") for p in mqtt(keyed(f), "CONNACK")] == [0] and len(mqtt(keyed(f), "PUBACK")) == 1,
    "02_success_mqtt5_tls12": lambda f: wire(f)["negotiated_version"] == "TLS 1.2" and f["client"]["exit_code"] == 0
        and [p.get("protocol_level") for p in mqtt(keyed(f), "CONNECT")] == [5]
        and all(p.get("reason_code", 0) < 0x80 for p in mqtt(keyed(f), "PUBACK")) and mqtt(keyed(f), "PUBACK"),
    "03_no_client_cert_tls12": lambda f: wire(f)["negotiated_version"] == "TLS 1.2"
        and alerts(wire(f), "broker") == ["handshake_failure"],
    "04_untrusted_endpoint_ca": lambda f: alerts(wire(f), "client") == ["unknown_ca"],
    "05_expired_client_cert_tls12": lambda f: wire(f)["negotiated_version"] == "TLS 1.2"
        and alerts(wire(f), "broker") == ["certificate_expired"],
    "06_plain_mqtt_to_tls_port": lambda f: "broker" in wire(f)["tcp"]["rst_from"]
        and wire(f)["tcp"]["payload_bytes"]["broker"] == 0,
    "07_publish_denied_mqtt5": lambda f: [p.get("reason_code") for p in mqtt(keyed(f), "PUBACK")] == [0x87],
}

DESCRIBE = {
    "01_success_tls13": """\
A working connection. mosquitto_pub (MQTT 3.1.1) presents a valid device certificate over
TLS 1.3, publishes one QoS 1 message to `devices/sample-device/telemetry` and disconnects. On the
wire alone only the ClientHello (with SNI) and ServerHello are readable; everything after is
encrypted. With the key log: CONNECT, CONNACK 0, PUBLISH, PUBACK, DISCONNECT, close_notify both
ways.""",
    "02_success_mqtt5_tls12": """\
A working MQTT 5 connection over TLS 1.2, so the whole handshake is readable without keys: both
certificate chains, the endpoint's CertificateRequest, the device's Certificate and
CertificateVerify. With the key log: CONNACK reason 0 and PUBACK reason 0x10 (No matching
subscribers), which is a success code in MQTT 5.""",
    "03_no_client_cert_tls12": """\
The device has no certificate. It answers the endpoint's CertificateRequest with an empty
Certificate message, and the endpoint sends a fatal **handshake_failure (40)** alert in clear,
then resets the connection. The broker logs `peer did not return a certificate`.""",
    "04_untrusted_endpoint_ca": """\
The device trusts only an unrelated root CA, so it cannot verify the endpoint's certificate.
TLS 1.3: right after the endpoint's encrypted flight the **device** sends a fatal
**unknown_ca (48)** alert in clear and resets. The key log holds only the server handshake
secret (the device got no further), which decrypts the endpoint's Certificate and
CertificateRequest.""",
    "05_expired_client_cert_tls12": """\
The device presents a certificate that expired 30 days before the capture (same CN, same CA).
TLS 1.2: after the device's Certificate, CertificateVerify and Finished, the endpoint sends a
fatal **certificate_expired (45)** alert in clear and resets. The broker logs
`certificate verify failed`.""",
    "06_plain_mqtt_to_tls_port": """\
The device speaks MQTT without TLS to the TLS port. Its CONNECT goes out in clear (readable
without keys); the endpoint answers with a TCP reset and not a single byte. The broker logs
`wrong version number`. There is no TLS and so no key log.""",
    "07_publish_denied_mqtt5": """\
The device connects fine and publishes (MQTT 5, QoS 1) to `devices/other/telemetry`, outside its
ACL. On the wire alone this looks exactly like a success. With the key log the endpoint's
**PUBACK carries reason 0x87 (Not authorized)**; the broker logs `Denied PUBLISH` and
mosquitto_pub warns `Publish 1 failed: Not authorized` but exits 0. AWS IoT Core answers a
denied MQTT 5 QoS 1 publish the same way; for MQTT 3.1.1 it disconnects instead, while mosquitto
would send a normal PUBACK.""",
}


def summary_row(sid, f):
    w, k = wire(f), keyed(f)
    tls = w.get("negotiated_version") or "none"
    wa = ", ".join(f'{a["description"]} ({a["code"]}) from {a["from"]}'
                   for a in w.get("alerts") or [] if a["code"] != 0) or "—"
    parts = []
    for p in k.get("mqtt") or w.get("mqtt") or []:
        code = p.get("reason_code", p.get("return_code"))
        parts.append(p["type"] + (f" 0x{code:02x}" if code is not None else ""))
    mq = " · ".join(parts) or "—"
    rst = ",".join(w["tcp"]["rst_from"]) or "—"
    keys = "yes" if f.get("keys") else "no"
    ok = "yes" if CHECKS.get(sid, lambda f: False)(f) else "**NO**"
    return (f"| `{sid}` | {tls} | {wa} | {mq} | {rst} | {f['client']['exit_code']} | {keys} | {ok} |")


rows = "\n".join(summary_row(sid, f) for sid, f in facts.items())
failed = [sid for sid, f in facts.items() if not CHECKS.get(sid, lambda f: False)(f)]
sections = "\n\n".join(f"### `{sid}`\n\n{DESCRIBE.get(sid, '')}" +
                       (f"\n\n**This run did not behave as intended; see `{sid}.facts.json`.**"
                        if sid in failed else "")
                       for sid in facts)

readme = f"""# Sample captures

Small captures of a device talking MQTT over TLS to an endpoint named
`{endpoint}`: one success of each MQTT version and the common failures.
They are what the top-level README replays:

```
iotscope replay --endpoint {endpoint} captures/samples/*.pcap
```

Every byte was produced by third-party programs on loopback: **mosquitto** as the endpoint and
**mosquitto_pub** as the device, both on OpenSSL, captured with **tcpdump**. iotscope code played
no part, so these files are fair evidence for testing it. `make.sh` made them; it also made the
PKI, which was thrown away afterwards.

## Files

For each scenario `NN_name`:

- `NN_name.pcap` — the capture (Ethernet link type, 127.0.0.1 port 18883 is the endpoint).
- `NN_name.keys` — NSS key log (`SSLKEYLOGFILE` format) written by the device's OpenSSL, where the
  handshake got far enough to produce secrets. Leave it out to see only what the wire shows.
- `NN_name.facts.json` — what actually happened, from observation only: the client's command,
  exit code and output, the broker's log lines for the connection, and tshark's reading of the
  capture without keys (`tshark_wire`, with one line per frame) and with keys
  (`tshark_with_keys`).

Open one in Wireshark with the keys:
`wireshark -o tls.keylog_file:07_publish_denied_mqtt5.keys -d tcp.port==18883,tls -d tls.port==18883,mqtt 07_publish_denied_mqtt5.pcap`

## What was observed

Written by `make.sh` from the facts files. "MQTT" is tshark's reading with the key log where one
exists, else without. "as intended" means the observation that defines the scenario was found.

| sample | TLS | alert on the wire (without keys) | MQTT | TCP reset by | client exit | keys | as intended |
|---|---|---|---|---|---|---|---|
{rows}

## What each sample shows

{sections}

## How they were made

- **Endpoint**: mosquitto on `127.0.0.1:18883` with `require_certificate true`,
  `use_identity_as_username true` (the username is the certificate's CN), an ACL that lets user
  `sample-device` use only `devices/sample-device/#`, and `tls_version tlsv1.2` (TLS 1.2 and 1.3
  accepted). Its certificate is issued directly by the sample root CA, with the endpoint name as
  CN and SAN; real AWS IoT endpoints also send an intermediate certificate.
- **Device**: `mosquitto_pub -d -h {endpoint} -p 18883 -i sample-device -q 1 ...`.
  Connecting by name makes the ClientHello carry the endpoint name as SNI. The name resolves to
  127.0.0.1 only for the client: each client runs in its own mount namespace
  (`unshare --mount`) where a copy of `/etc/hosts` with one extra line is bind-mounted over
  `/etc/hosts`. The machine's own `/etc/hosts` is never edited.
- **TLS 1.2 scenarios**: mosquitto_pub 2.0.11's `--tls-version tlsv1.2` only sets the *lowest*
  version (the client still gets TLS 1.3), so the client is capped with an OpenSSL configuration
  file (`OPENSSL_CONF`, `MaxProtocol = TLSv1.2` in the `system_default` section).
- **Key logs**: neither OpenSSL 3.0 nor mosquitto_pub can write a key log by themselves. A
  20-line preload library (`LD_PRELOAD`) registers OpenSSL's own keylog callback in `SSL_new` and
  appends each line to `$SSLKEYLOGFILE`. It changes nothing on the wire.
- **Expired certificate**: issued with `openssl ca -startdate/-enddate` (OpenSSL 3.0's
  `x509 -req` cannot back-date; `-not_before/-not_after` arrived in 3.4).
- **Capture**: `tcpdump -i lo -U -Z root -w NN_name.pcap 'tcp port 18883'`, started before the
  client and stopped with SIGINT one second after the client exits.

Things to keep in mind when reading them:

- mosquitto ignores SNI and ALPN. AWS IoT Core uses SNI to pick the account and domain
  configuration; these samples cannot show an SNI refusal.
- In TLS 1.3 an endpoint's refusal of a client certificate travels encrypted after the device's
  Finished, which is why the certificate failures here use TLS 1.2, where the alert is readable.
- The port is 18883, not 8883 or 443: a reader must find TLS and MQTT by content, not by port.
- Some details change from run to run without changing the scenario: mosquitto_pub's exit code
  after a refused handshake (1 when the failure surfaces while connecting, 8 when it surfaces in
  its network loop), and which side resets the TCP connection after close_notify.

### PKI (created fresh by each run, then deleted)

```
{pki}
```

## Regenerate

```
sudo captures/samples/make.sh
```

Needs root (tcpdump on `lo`, a mount namespace) and Debian packages: mosquitto,
mosquitto-clients, openssl, tcpdump, tshark, python3, gcc and libc6-dev (for the preload library)
and util-linux; missing ones are installed with apt-get. Everything runs on 127.0.0.1:18883.
Each run makes a new PKI and new captures, so every `NN_*` file changes; keys, timestamps and
ports differ but the scenarios do not.

## Tool versions used for these files

```
{versions}
```
"""
with open(f"{out}/README.md", "w", encoding="utf-8") as fh:
    fh.write(readme)
if failed:
    print("WARNING: these scenarios did not behave as intended: " + ", ".join(failed), file=sys.stderr)
PYEOF

echo "done: $(find "$OUT" -maxdepth 1 -name '[0-9][0-9]_*' | wc -l) files in $OUT"
