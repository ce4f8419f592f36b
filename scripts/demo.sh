#!/usr/bin/env bash
# Run redline's agent on a scratch copy of the sample project (never on the repo itself).
set -euo pipefail
redline=${1:-redline}
# Resolve before changing directory: the caller may pass a relative path.
if [[ "$redline" == */* ]]; then redline=$(cd "$(dirname "$redline")" && pwd)/$(basename "$redline"); fi
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/examples/sample_project/." "$work/"
cd "$work"
echo "== redline exec on a copy of examples/sample_project (embedded model) =="
# A 135M model rarely fixes the bug; the demo shows the loop, edits, checks and timings.
"$redline" exec "make the failing test pass" --approval full-auto --max-steps 4 || true
