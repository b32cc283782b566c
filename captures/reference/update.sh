#!/usr/bin/env bash
# Copies the reference captures from their upstream folder into this one and rewrites
# NOTICE.md from the provenance the upstream's oracle files record.
#
#   captures/reference/update.sh UPSTREAM_DIR
#
# UPSTREAM_DIR holds public/, lab/ and wild/ as the project's capture collection lays them
# out. The copies here are never edited by hand: run this again when the upstream grows.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
up=${1:?usage: update.sh UPSTREAM_DIR (the folder with public/, lab/ and wild/)}
for set in public lab wild; do
  [ -d "$up/$set" ] || { echo "update.sh: $up/$set is missing" >&2; exit 2; }
  mkdir -p "$here/$set"
  cp -p "$up/$set"/* "$here/$set/"
done
python3 "$here/notice.py" "$here" > "$here/NOTICE.md"
echo "copied $(find "$here"/{public,lab,wild} -type f | wc -l) files; NOTICE.md rewritten"
