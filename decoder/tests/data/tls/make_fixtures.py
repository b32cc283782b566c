#!/usr/bin/env python3
"""Turns the TLS streams of the reference captures into the `.stream` fixtures beside this file.

Each fixture holds one TCP connection as tshark reassembles it (`-z follow,tcp,raw`): one line
per chunk, `D <hex>` for bytes the device (the side that sent the ClientHello) sent and
`E <hex>` for the endpoint's, in capture order. Run from the repository root:

    python3 decoder/tests/data/tls/make_fixtures.py captures/reference
"""
import os
import subprocess
import sys

CAPTURES = {
    "lab03_tls12_mtls_ok": "lab/03_success_mqtt311_tls12.pcap",
    "lab07_tls12_no_client_cert": "lab/07_no_client_cert_tls12.pcap",
    "lab10_tls12_unknown_ca": "lab/10_client_cert_unknown_ca_tls12.pcap",
    "lab01_tls13_ok": "lab/01_success_mqtt311.pcap",
    "lab05_tls13_client_unknown_ca": "lab/05_untrusted_server_ca_tls13.pcap",
    "lab08_tls13_no_client_cert": "lab/08_no_client_cert_tls13.pcap",
    "lab14_sni_ip": "lab/14_hostname_mismatch_ip.pcap",
    "lab15_sni_absent": "lab/15_sni_absent_s_client.pcap",
    "lab26_tls10_client": "lab/26_tls10_client.pcap",
    "sv_tls12_selfsigned_selks": "public/sv_tls12_selfsigned_selks.pcap",
    "sv_tls12_mtls_client_auth": "public/sv_tls12_mtls_client_auth.pcap",
    "sv_tls_alert_handshake_failure": "public/sv_tls_alert_handshake_failure.pcap",
    "arkime_tls12_alert_certificate_unknown": "public/arkime_tls12_alert_certificate_unknown.pcap",
    "arkime_tls12_alpn_h2": "public/arkime_tls12_alpn_h2_null_linktype.pcap",
    "arkime_tls13_curl_sni": "public/arkime_tls13_curl_sni.pcap",
    "illustrated_tls12": "public/illustrated_tls12.pcap",
    "illustrated_tls13": "public/illustrated_tls13.pcap",
}

# tshark needs to be told which ports carry TLS when they are not 443.
DECODE_AS = ["-d", "tcp.port==8883,tls", "-d", "tcp.port==8081,tls"]


def streams(path):
    out = subprocess.run(
        ["tshark", "-r", path, "-T", "fields", "-e", "tcp.stream"],
        capture_output=True, text=True, check=True).stdout
    return sorted({int(s) for s in out.split() if s})


def follow(path, stream):
    out = subprocess.run(
        ["tshark", "-r", path, "-q", *DECODE_AS, "-z", f"follow,tcp,raw,{stream}"],
        capture_output=True, text=True, check=True).stdout
    chunks = []
    for line in out.splitlines():
        if not line.strip() or line.startswith(("=", "Follow:", "Filter:", "Node ")):
            continue
        node = 1 if line.startswith("\t") else 0
        chunks.append((node, line.strip()))
    return chunks


def is_client_hello(hexdata):
    return hexdata[:2] == "16" and hexdata[10:12] == "01"


def main():
    root = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    for name, rel in CAPTURES.items():
        path = os.path.join(root, rel)
        for stream in streams(path):
            chunks = follow(path, stream)
            device = next((n for n, h in chunks if is_client_hello(h)), None)
            if device is None:
                continue
            with open(os.path.join(here, name + ".stream"), "w") as f:
                f.write(f"# {rel} tcp.stream {stream}\n")
                for node, h in chunks:
                    f.write(("D " if node == device else "E ") + h + "\n")
            break


if __name__ == "__main__":
    main()
