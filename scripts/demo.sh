#!/usr/bin/env bash
# Run redline's agent on a scratch copy of the sample project (never on the repo itself),
# then the sample's own tests: the demo fails if the agent did not fix them.
set -euo pipefail
redline=${1:-redline}
# Resolve before changing directory: the caller may pass a relative path.
if [[ "$redline" == */* ]]; then redline=$(cd "$(dirname "$redline")" && pwd)/$(basename "$redline"); fi
python=$(dirname "$redline")/python
[[ -x "$python" ]] || python=python3
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/examples/sample_project/." "$work/"
cd "$work"
echo "== redline exec on a copy of examples/sample_project (default model) =="
"$redline" exec "make the failing test pass" --approval full-auto --max-steps 4
echo "== the sample's tests after the agent's edit =="
"$python" -m pytest -q -p no:cacheprovider
