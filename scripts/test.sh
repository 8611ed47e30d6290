#!/usr/bin/env bash
# Install the project with its test dependencies and run the whole test suite.
source "$(dirname "$0")/_venv.sh"
install_project "[test]"
.venv/bin/python -m pytest "$@"
