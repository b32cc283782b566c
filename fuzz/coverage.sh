#!/usr/bin/env bash
# Source coverage of a target's committed corpus: builds the target with -Cinstrument-coverage
# (`cargo fuzz coverage`, needs `rustup component add llvm-tools-preview --toolchain nightly`),
# runs every input once, and prints llvm-cov's totals for the code the target is about and
# for the decoder and capture crates as a whole (region, function and line coverage).
#
#   fuzz/coverage.sh tls_stream
set -euo pipefail
cd "$(dirname "$0")"
t=$1
root=$(cd .. && pwd)
case $t in
  tls_stream) scope=("$root/decoder/src/tls" "$root/decoder/src/session.rs") ;;
  mqtt_stream) scope=("$root/decoder/src/mqtt") ;;
  cert_summary) scope=("$root/decoder/src/cert") ;;
  capture_file) scope=("$root/captures/src") ;;
  policy_eval) scope=("$root/decoder/src/policy") ;;
  *) echo "unknown target $t" >&2; exit 2 ;;
esac
nice -n 10 cargo +nightly fuzz coverage "$t" "corpus/$t" >/dev/null 2>&1
llvm_cov=$(ls "$(rustc +nightly --print sysroot)"/lib/rustlib/*/bin/llvm-cov)
bin=target/x86_64-unknown-linux-gnu/coverage/x86_64-unknown-linux-gnu/release/$t
prof=coverage/$t/coverage.profdata
echo "$t, ${scope[*]#"$root/"}:"
"$llvm_cov" report "$bin" -instr-profile="$prof" "${scope[@]}" | tail -1
echo "$t, decoder/src and captures/src:"
"$llvm_cov" report "$bin" -instr-profile="$prof" "$root/decoder/src" "$root/captures/src" | tail -1
