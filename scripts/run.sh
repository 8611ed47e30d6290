#!/usr/bin/env bash
# Install, ingest the bundled corpus, and start the chat on http://127.0.0.1:7860 (KB_APP_PORT).
# Each step says what it is doing: the first install takes a few minutes and is otherwise silent.
source "$(dirname "$0")/_venv.sh"
step() { printf '\n==> %s\n' "$*" >&2; }
step "1/3 Installerer programmet og dets pakker i .venv (første gang: nogle minutter) ..."
install_project ""
step "2/3 Indlæser dokumenterne i corpus/ (første gang forberedes sprogmodellen også) ..."
if ! .venv/bin/kb ingest; then
  echo "Nogle filer kunne ikke indlæses (se ovenfor); de øvrige er i vidensbasen." >&2
fi
step "3/3 Starter chatten på http://${KB_APP_HOST:-127.0.0.1}:${KB_APP_PORT:-7860} (stop med Ctrl+C) ..."
exec .venv/bin/python app.py
