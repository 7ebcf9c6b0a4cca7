#!/usr/bin/env bash
# Runs every command of the README's quick start (the first ```sh block under "## Quick start"), in order, from the
# repository's root, as a new user would type them; prints how long each took. CI runs the quick start through this,
# so a command added to the README is a command CI runs. Fails with the first command that fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
commands=$(awk '
    /^## Quick start/ { section = 1; next }
    /^## / { section = 0 }
    section && /^```sh$/ && !done { block = 1; next }
    block && /^```$/ { block = 0; done = 1; next }
    block { sub(/[[:space:]]+#.*$/, ""); if ($0 != "") print }
' README.md)
if [ -z "$commands" ]; then
    echo "run-quickstart: no \`\`\`sh block found under '## Quick start' in README.md" >&2
    exit 1
fi
while IFS= read -r command; do
    echo "==> quick start: $command"
    started=$SECONDS
    bash -c "$command" </dev/null
    echo "ci: $command took $((SECONDS - started)) s"
done <<<"$commands"
