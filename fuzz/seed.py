#!/usr/bin/env python3
"""Builds the fuzz targets' seed corpora from what the repository holds.

    python3 fuzz/seed.py [OUT]      # OUT defaults to fuzz/seeds (not committed)

then minimise each target's seeds into the committed corpus (see docs/testing.md, "Fuzzing"):

    cd fuzz && cargo +nightly fuzz cmin <target> seeds/<target>   # or -merge=1 into corpus/

Needs tshark and editcap. Each target's input format is in its source in fuzz_targets/:

* tls_stream, mqtt_stream (common.rs): the first byte picks the piece size (`% 61 + 1`), bit 6
  spreads every third piece to the endpoint-to-device side, bit 7 adds gaps. From every TCP
  stream of every capture (tshark's `follow,tcp,raw`) two seeds: the device's bytes alone
  (shape 60: pieces of 61, one side), and both sides interleaved the way common.rs splits them
  (shape 121: pieces of 61, every third to the endpoint), the device's side padded once it has
  said everything (ChangeCipherSpec records for TLS, PINGREQ for MQTT) so the endpoint's flight
  with its certificates is reached. tls_stream feeds `16 03 01` first, so its seeds start after
  the first record's header.
* cert_summary: the DER fixtures and every certificate the captures carry; a few doubled
  (`cert || cert`), which the target's split in the middle reads as a chain of two.
* capture_file: the captures themselves, cut to at most CAP_FILE bytes by keeping their first
  packets, some rewritten as pcapng, two with their key log injected (a pcapng DSB).
* policy_eval: the policy documents in the tests and the docs, alone and followed by
  `NUL resource NUL client id`.
"""
import glob
import hashlib
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fuzz", "seeds")
CAP_STREAM = 8192  # longest stream seed
CAP_FILE = 6144  # longest capture file seed

CAPTURES = sorted(
    glob.glob(os.path.join(ROOT, "captures/samples/*.pcap*"))
    + glob.glob(os.path.join(ROOT, "captures/reference/*/*.pcap*"))
    + glob.glob(os.path.join(ROOT, "captures/resumption/*.pcap*"))
)


def write(target, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def run(*args):
    return subprocess.run(args, capture_output=True, check=False).stdout


def tcp_streams(cap):
    """[(device chunks, endpoint chunks, [(is_endpoint, bytes)] in order)] per TCP stream."""
    ids = sorted(
        {int(x) for x in run("tshark", "-r", cap, "-T", "fields", "-e", "tcp.stream").split() if x.strip()}
    )
    if not ids:
        return []
    args = ["tshark", "-r", cap, "-q"]
    for i in ids:
        args += ["-z", f"follow,tcp,raw,{i}"]
    text = run(*args).decode("ascii", "replace")
    streams, cur = [], None
    for line in text.splitlines():
        if line.startswith("Follow: tcp,raw"):
            cur = []
            streams.append(cur)
        elif cur is not None and re.fullmatch(r"\t?[0-9a-f]+", line):
            cur.append((line.startswith("\t"), bytes.fromhex(line.strip())))
    return [s for s in streams if s]


def interleave(shape, device, endpoint, pad):
    """The bytes that make common.rs feed `device` and `endpoint` on their own sides."""
    step = shape % 61 + 1
    out, d, e, i = bytearray([shape]), 0, 0, 0
    while len(out) < CAP_STREAM and e < len(endpoint):
        if (shape >> 6) & 1 == 1 and i % 3 == 2:
            piece = endpoint[e : e + step]
            e += step
            if len(piece) < step:  # a short piece is only possible at the very end
                out += piece
                break
        else:
            piece = device[d : d + step]
            d += step
            while len(piece) < step:
                piece += pad
            piece = piece[:step]
        out += piece
        i += 1
    return bytes(out[:CAP_STREAM])


def streams_seeds():
    for cap in CAPTURES:
        for chunks in tcp_streams(cap):
            device = b"".join(c for side, c in chunks if not side)
            endpoint = b"".join(c for side, c in chunks if side)
            if not device and not endpoint:
                continue
            if device[:1] == b"\x16" or endpoint[:1] == b"\x16":
                target, pad = "tls_stream", bytes.fromhex("140303000101")
                if device[:1] == b"\x16":
                    device = device[3:]
            elif device[:1] in (b"\x10", b"\x30", b"\x82", b"\xc0") or endpoint[:1] == b"\x20":
                target, pad = "mqtt_stream", b"\xc0\x00"
            else:
                # text first (HTTP CONNECT, STARTTLS, other protocols): both targets read it
                for target in ("tls_stream", "mqtt_stream"):
                    write(target, (bytes([60]) + device)[:CAP_STREAM])
                continue
            write(target, (bytes([60]) + device)[:CAP_STREAM])
            if endpoint:
                write(target, interleave(121, device, endpoint, pad))


def cert_seeds():
    certs = set()
    for f in glob.glob(os.path.join(ROOT, "decoder/tests/data/certs/*.der")):
        certs.add(open(f, "rb").read())
    for cap in CAPTURES:
        out = run("tshark", "-r", cap, "-T", "fields", "-e", "tls.handshake.certificate")
        for line in out.decode().split():
            for h in line.split(","):
                h = h.replace(":", "")
                if h and len(h) % 2 == 0:
                    certs.add(bytes.fromhex(h))
    for i, c in enumerate(sorted(certs)):
        write("cert_summary", c)
        if i % 4 == 0:
            write("cert_summary", c + c)


def capture_seeds():
    with tempfile.TemporaryDirectory() as tmp:
        for n, cap in enumerate(CAPTURES):
            base = os.path.basename(cap)
            fmt = "pcapng" if n % 3 == 0 else "pcap"
            count = len(run("tshark", "-r", cap, "-T", "fields", "-e", "frame.number").split())
            keep = max(count, 1)
            while True:
                out = os.path.join(tmp, f"{base}.{keep}")
                subprocess.run(
                    ["editcap", "-F", fmt, "-r", cap, out, f"1-{keep}"],
                    capture_output=True,
                    check=False,
                )
                if not os.path.exists(out):
                    break
                if os.path.getsize(out) <= CAP_FILE or keep <= 1:
                    if os.path.getsize(out) <= 4 * CAP_FILE:
                        write("capture_file", open(out, "rb").read())
                    break
                keep = max(1, keep * 2 // 3)
            if os.path.getsize(cap) <= CAP_FILE:
                write("capture_file", open(cap, "rb").read())
        for cap in ("captures/reference/lab/14_hostname_mismatch_ip", "captures/resumption/tls13_early_data"):
            out = os.path.join(tmp, "dsb.pcapng")
            subprocess.run(
                ["editcap", "--inject-secrets", f"tls,{ROOT}/{cap}.keys", "-r", f"{ROOT}/{cap}.pcap", out, "1-12"],
                capture_output=True,
                check=False,
            )
            if os.path.exists(out):
                write("capture_file", open(out, "rb").read())


def policy_seeds():
    sources = [
        "decoder/tests/policy_vectors.rs",
        "tests/tests/policy.rs",
        "decoder/src/policy/document.rs",
        "docs/user-guide.md",
    ]
    docs = set()
    for src in sources:
        path = os.path.join(ROOT, src)
        if not os.path.exists(path):
            continue
        text = open(path, encoding="utf-8").read()
        for m in re.finditer(r'r#"(.*?)"#', text, re.S):
            if "Statement" in m.group(1) or "policyDocument" in m.group(1):
                docs.add(m.group(1))
        for m in re.finditer(r"```(?:json)?\n(.*?)```", text, re.S):
            if "Statement" in m.group(1):
                docs.add(m.group(1))
    tails = [
        "",
        "\0sensors/client1/temp\0client1",
        "\0$aws/things/thing1/shadow/update\0thing1",
        "\0client1\0client1",
    ]
    for i, doc in enumerate(sorted(docs)):
        write("policy_eval", (doc + tails[i % len(tails)]).encode())


if __name__ == "__main__":
    which = sys.argv[2:] or ["streams", "cert", "capture", "policy"]
    for name in which:
        globals()[f"{name}_seeds"]()
    for t in sorted(os.listdir(OUT)):
        files = os.listdir(os.path.join(OUT, t))
        size = sum(os.path.getsize(os.path.join(OUT, t, f)) for f in files)
        print(f"{t}: {len(files)} seeds, {size} bytes")
