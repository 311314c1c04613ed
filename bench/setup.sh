#!/usr/bin/env bash
# Installs what bench/run.py needs: wrk, slapd and valgrind (Debian), the peers' Python venv
# (bench/.venv-peers, pinned by requirements-peers.txt) and the Node peer's
# packages (npm ci from package-lock.json). Redoes a part only when its pins
# changed; FORCE=1 recreates everything from scratch.
set -euo pipefail
cd "$(dirname "$0")"
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v taskset >/dev/null || missing+=(util-linux)
command -v node >/dev/null || missing+=(nodejs npm)
# The password grant against a directory: a slapd started by run.py (tests/slapd.py).
command -v slapd >/dev/null || [ -x /usr/sbin/slapd ] || missing+=(slapd ldap-utils)
# Instructions counted instead of timed (app_instructions.py): callgrind.
command -v valgrind >/dev/null || missing+=(valgrind)
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}"
fi

venv=.venv-peers
if [ -n "${FORCE:-}" ] || [ ! -f $venv/.installed ] || [ requirements-peers.txt -nt $venv/.installed ]; then
  rm -rf $venv
  python3 -m venv $venv
  $venv/bin/python -m pip install --quiet --upgrade pip
  $venv/bin/python -m pip install --quiet -r requirements-peers.txt
  touch $venv/.installed
fi

node_dir=peers/node_oauth2_server
if [ -n "${FORCE:-}" ] || [ ! -f $node_dir/node_modules/.installed ] \
    || [ $node_dir/package-lock.json -nt $node_dir/node_modules/.installed ]; then
  # better-sqlite3 and argon2 build or pick their native parts here.
  (cd $node_dir && npm ci --no-audit --no-fund --loglevel=error)
  touch $node_dir/node_modules/.installed
fi
