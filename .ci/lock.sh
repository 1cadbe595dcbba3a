#!/usr/bin/env bash
# Write constraints.txt: every package the project and its extras install, pinned, for
# Linux/macOS/Windows and Python 3.11+ (uv's universal resolution). The image and CI
# install with `-c constraints.txt`. Keeps the pins it can; `--upgrade` moves them all.
#   bash .ci/lock.sh [--upgrade]           (needs uv: pip install '.[ci]')
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-$(command -v uv || echo .venv/bin/uv)}
"$uv" pip compile pyproject.toml --all-extras --universal --python-version 3.11 \
  --custom-compile-command "bash .ci/lock.sh" --quiet "$@" -o constraints.txt
echo "wrote constraints.txt"
