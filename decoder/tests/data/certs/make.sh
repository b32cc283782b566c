#!/bin/sh
# Regenerates the certificate fixtures used by decoder/tests/cert_*.rs.
#
#   sh decoder/tests/data/certs/make.sh        (needs tshark and openssl 3)
#
# Two kinds of fixture:
#   cap_*.der   certificates cut out of the reference captures with tshark, byte for byte as
#               they crossed the wire; the tests check them against Suricata's recorded
#               values in captures/reference/public/oracle.json and the lab's 00_pki_inventory.txt.
#   ossl_*.der  certificates made here with openssl, covering what the captures lack
#               (EC P-256/P-384/P-521, Ed25519, RSA-PSS, a 1024-bit RSA CA, SAN IPs and
#               URIs, EKUs, a serial with its top bit set).
# For every DER file, <name>.openssl.txt records what openssl says about it (subject and
# issuer in Suricata's layout, serial, dates, digests, key size, signature algorithm, SANs),
# so the tests compare the decoder with an independent reading rather than with itself.
#
# Running it again makes new keys, serials and dates: commit the whole directory together.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
CAPTURES=${CAPTURES:-$ROOT/captures/reference}
cd "$HERE"
rm -f ./*.der ./*.pem ./*.bin ./*.openssl.txt

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# --- certificates from the captures ------------------------------------------------------

# extract PCAP DECODE-AS FILTER INDEX NAME: certificate INDEX (1-based) of the first
# Certificate message matching FILTER, written as NAME.der.
extract() {
    hex=$(tshark -r "$1" $2 -Y "tls.handshake.type==11 && $3" -T fields \
        -e tls.handshake.certificate 2>/dev/null | head -n 1 | cut -d, -f"$4")
    [ -n "$hex" ] || { echo "no certificate $4 in $1 ($3)" >&2; exit 1; }
    printf '%s' "$hex" | xxd -r -p > "$5.der"
}

PUB=$CAPTURES/public
LAB=$CAPTURES/lab
MTLS="-d tcp.port==8081,tls"
MQTTS="-d tcp.port==8883,tls"
extract "$PUB/sv_tls12_mtls_client_auth.pcap" "$MTLS" "tcp.srcport==8081" 1 cap_mtls_server
extract "$PUB/sv_tls12_mtls_client_auth.pcap" "$MTLS" "tcp.srcport==8081" 2 cap_mtls_root
extract "$PUB/sv_tls12_mtls_client_auth.pcap" "$MTLS" "tcp.dstport==8081" 1 cap_mtls_client
extract "$PUB/sv_tls12_sni_github.pcap" "" "tcp.srcport==443" 1 cap_github_leaf
extract "$PUB/sv_tls12_sni_github.pcap" "" "tcp.srcport==443" 2 cap_github_ca
extract "$PUB/sv_tls12_selfsigned_selks.pcap" "" "tcp.srcport==443" 1 cap_selks
extract "$PUB/arkime_tls12_alert_certificate_unknown.pcap" "" "tcp.srcport==443" 1 cap_infigo_leaf
extract "$PUB/arkime_tls12_alert_certificate_unknown.pcap" "" "tcp.srcport==443" 2 cap_infigo_root
extract "$LAB/07_no_client_cert_tls12.pcap" "$MQTTS" "tcp.srcport==8883" 1 cap_lab_server
extract "$LAB/03_success_mqtt311_tls12.pcap" "$MQTTS" "tcp.dstport==8883" 1 cap_lab_good
extract "$LAB/13_client_cert_expired_tls12.pcap" "$MQTTS" "tcp.dstport==8883" 1 cap_lab_expired
extract "$LAB/10_client_cert_unknown_ca_tls12.pcap" "$MQTTS" "tcp.dstport==8883" 1 cap_lab_rogue

# --- certificates made with openssl ------------------------------------------------------

cat > "$WORK/req.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
utf8 = yes
string_mask = utf8only
[dn]
[root]
basicConstraints = critical, CA:TRUE, pathlen:1
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:device-001.example.com, DNS:*.iot.example.com, IP:192.0.2.7, IP:2001:db8::1, URI:spiffe://example.com/device-001, email:ops@example.com
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[plain]
basicConstraints = critical, CA:FALSE
extendedKeyUsage = clientAuth, 1.3.6.1.4.1.311.20.2.2
EOF

key() { # key NAME ALGORITHM-OPTIONS...
    name=$1; shift
    openssl genpkey "$@" -out "$WORK/$name.key" 2>/dev/null
}

# selfsign NAME SUBJECT EXTENSIONS [DIGEST]
selfsign() {
    openssl req -new -x509 -config "$WORK/req.cnf" -key "$WORK/$1.key" -subj "$2" \
        -extensions "$3" -days 7300 ${4:+-$4} -outform der -out "$1.der"
}

# issue NAME SUBJECT ISSUER EXTENSIONS SERIAL [DIGEST]
issue() {
    openssl req -new -config "$WORK/req.cnf" -key "$WORK/$1.key" -subj "$2" \
        -out "$WORK/$1.csr"
    openssl x509 -inform der -in "$3.der" -out "$WORK/$3.pem"
    openssl x509 -req -in "$WORK/$1.csr" -CA "$WORK/$3.pem" -CAkey "$WORK/$3.key" \
        -extfile "$WORK/req.cnf" -extensions "$4" -set_serial "$5" -days 3650 ${6:+-$6} \
        -outform der -out "$1.der" 2>/dev/null
}

key ossl_root_rsa -algorithm RSA -pkeyopt rsa_keygen_bits:2048
key ossl_inter_p384 -algorithm EC -pkeyopt ec_paramgen_curve:P-384
key ossl_leaf_p256 -algorithm EC -pkeyopt ec_paramgen_curve:P-256
selfsign ossl_root_rsa "/C=US/O=Iotscope Test/CN=Iotscope Test Root" root sha256
issue ossl_inter_p384 "/C=US/O=Iotscope Test/OU=Devices/CN=Iotscope Device CA" \
    ossl_root_rsa inter 0x1001 sha384
issue ossl_leaf_p256 "/C=DE/ST=Berlin/L=Berlin/O=Example, Inc./OU=Devices/CN=device-001.example.com" \
    ossl_inter_p384 leaf 0x80A1B2C3D4E5F60718 sha384

key ossl_ed25519 -algorithm ED25519
selfsign ossl_ed25519 "/O=Iotscope Test/CN=ed25519.example.com" plain

key ossl_p521_ca -algorithm EC -pkeyopt ec_paramgen_curve:P-521
key ossl_p521_leaf -algorithm EC -pkeyopt ec_paramgen_curve:P-521
selfsign ossl_p521_ca "/O=Iotscope Test/CN=P-521 CA" root sha512
issue ossl_p521_leaf "/O=Iotscope Test/CN=p521.example.com" ossl_p521_ca plain 0x0521 sha512

key ossl_rsa1024_ca -algorithm RSA -pkeyopt rsa_keygen_bits:1024
key ossl_rsa1024_leaf -algorithm RSA -pkeyopt rsa_keygen_bits:2048
selfsign ossl_rsa1024_ca "/O=Legacy Devices/CN=Legacy 1024 CA" root sha256
issue ossl_rsa1024_leaf "/O=Legacy Devices/CN=legacy-device" ossl_rsa1024_ca plain 0x1024 sha256

key ossl_rsa_pss -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048
selfsign ossl_rsa_pss "/O=Iotscope Test/CN=pss.example.com" plain sha256
# The same key signing with a salt as long as the hash, the one PSS form aws-lc verifies.
openssl req -new -x509 -config "$WORK/req.cnf" -key "$WORK/ossl_rsa_pss.key" \
    -subj "/O=Iotscope Test/CN=pss-digest-salt.example.com" -extensions plain -days 7300 \
    -sha256 -sigopt rsa_pss_saltlen:digest -outform der -out ossl_rsa_pss_salt32.der

# The same chain as a PEM bundle (with the text openssl puts before each block) and as DER
# certificates written back to back.
: > ossl_chain.pem
for c in ossl_leaf_p256 ossl_inter_p384 ossl_root_rsa; do
    openssl x509 -inform der -in "$c.der" -subject -issuer -nameopt utf8,sep_comma_plus_space,sname >> ossl_chain.pem
done
cat ossl_leaf_p256.der ossl_inter_p384.der > ossl_leaf_inter_concat.bin

# --- what openssl says about each certificate ---------------------------------------------

for der in *.der; do
    name=${der%.der}
    {
        openssl x509 -inform der -in "$der" -noout -subject -issuer \
            -nameopt utf8,sep_comma_plus_space,sname
        openssl x509 -inform der -in "$der" -noout -serial -dates -dateopt iso_8601
        echo "sha256=$(sha256sum < "$der" | cut -d' ' -f1)"
        openssl x509 -inform der -in "$der" -noout -fingerprint -sha1 | sed 's/^.*Fingerprint=/sha1=/'
        text=$(openssl x509 -inform der -in "$der" -noout -text)
        echo "signature=$(printf '%s\n' "$text" | grep -m1 'Signature Algorithm:' | sed 's/.*: //')"
        echo "key_bits=$(printf '%s\n' "$text" | grep -m1 -o 'Public-Key: ([0-9]* bit)' | grep -o '[0-9]*' || true)"
        echo "san=$(openssl x509 -inform der -in "$der" -noout -ext subjectAltName 2>/dev/null | tail -n +2 | sed 's/^ *//' || true)"
    } > "$name.openssl.txt"
done
echo "made $(ls ./*.der | wc -l) certificates"
