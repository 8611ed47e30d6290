#!/usr/bin/env bash
# Install the project with its test dependencies (and Debian's Chromium for the browser test),
# lint (ruff), audit the dependencies where advisory data is reachable (scripts/audit.sh), run the whole test suite, then the eval gate (the dev set against evals/floors.json).
source "$(dirname "$0")/_venv.sh"
install_project "[test]"
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Chromium for the browser test (apt-get) ..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing and this is not root: the browser test will be skipped." \
         "Install it with: sudo apt-get install chromium" >&2
  fi
fi
.venv/bin/ruff check .
bash scripts/audit.sh --if-reachable
.venv/bin/python -m pytest "$@"
.venv/bin/kb eval gate
