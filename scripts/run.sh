#!/usr/bin/env bash
# Install, ingest the bundled corpus, and start the chat on http://127.0.0.1:7860 (KB_APP_PORT).
source "$(dirname "$0")/_venv.sh"
install_project ""
if ! .venv/bin/kb ingest; then
  echo "Some files could not be ingested (listed above); the others are in the knowledge base." >&2
fi
exec .venv/bin/python app.py
