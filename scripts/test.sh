#!/usr/bin/env bash
# Install the project with its test dependencies, run the whole test suite, then the eval gate
# (the dev question set on the default configuration against evals/floors.json).
source "$(dirname "$0")/_venv.sh"
install_project "[test]"
.venv/bin/python -m pytest "$@"
.venv/bin/kb eval gate
