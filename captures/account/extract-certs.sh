#!/bin/sh
# Extracts the lab PKI's public device certificates from the lab captures into certs/*.pem.
# tshark decrypts each capture with its key log, and prints every certificate the device
# (the side that is not port 8883) sent; openssl turns the DER into PEM.
#   good       03_success_mqtt311_tls12 (TLS 1.2: the client certificate is in clear)
#   expired    12_client_cert_expired_tls13 (TLS 1.3, decrypted with its .keys)
#   unknownca  10_client_cert_unknown_ca_tls12 (TLS 1.2, in clear)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
lab="$here/../reference/lab"
mkdir -p "$here/certs"
extract() {
    name=$1 capture=$2
    tshark -r "$lab/$capture.pcap" -o "tls.keylog_file:$lab/$capture.keys" \
        -Y 'tls.handshake.type == 11 && tcp.srcport != 8883' \
        -T fields -e tls.handshake.certificate |
        head -n 1 | cut -d, -f1 | xxd -r -p |
        openssl x509 -inform DER -outform PEM > "$here/certs/$name.pem"
    printf '%s %s\n' "$(openssl x509 -in "$here/certs/$name.pem" -outform DER | sha256sum | cut -d' ' -f1)" "$name"
}
extract good 03_success_mqtt311_tls12
extract expired 12_client_cert_expired_tls13
extract unknownca 10_client_cert_unknown_ca_tls12
