#!/usr/bin/env bash
# Runs fuzz targets one after the other, each to RUNS executions (or MAX_TIME seconds, whichever
# comes first), growing a working corpus seeded from the committed one, then minimises it back
# into fuzz/corpus/<target>. Logs (with libFuzzer's final #N, cov:, ft: and exec/s) go to
# fuzz/logs/<target>.log; a crash, timeout or leak lands in fuzz/artifacts/<target>/.
#
#   fuzz/run.sh [target...]        # default: all five
#   RUNS=10000000 MAX_TIME=1500 fuzz/run.sh tls_stream
#
# Build first: cd fuzz && cargo +nightly fuzz build -s none -a
set -euo pipefail
cd "$(dirname "$0")"
RUNS=${RUNS:-10000000}
MAX_TIME=${MAX_TIME:-1800}
B=target/x86_64-unknown-linux-gnu/release
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(policy_eval cert_summary tls_stream capture_file mqtt_stream)
mkdir -p logs
for t in "${targets[@]}"; do
  work=work/$t
  mkdir -p "$work" "artifacts/$t" "corpus/$t"
  cp -n corpus/"$t"/* "$work"/ 2>/dev/null || true
  echo "== $t start $(date -u +%FT%TZ)" >"logs/$t.log"
  nice -n 10 "$B/$t" -runs="$RUNS" -max_total_time="$MAX_TIME" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" "$work" >>"logs/$t.log" 2>&1 || true
  echo "== $t end $(date -u +%FT%TZ)" >>"logs/$t.log"
  # minimise: the committed corpus keeps only inputs that add an edge (-use_counters=0: hit
  # counts do not count, which keeps the corpus a tenth of the size for the same edges)
  rm -rf "corpus/$t.new" && mkdir -p "corpus/$t.new"
  nice -n 10 "$B/$t" -merge=1 -use_counters=0 -timeout=10 "corpus/$t.new" "$work" >"logs/$t.merge.log" 2>&1
  rm -rf "corpus/$t" && mv "corpus/$t.new" "corpus/$t"
done
