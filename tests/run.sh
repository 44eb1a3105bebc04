#!/usr/bin/env bash
# Install everything the tests need (on a bare machine too) and run them.
# Usage: bash tests/run.sh [pytest args...]   (the fast subset: bash tests/run.sh -m "not slow")
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
# The pinned set and the project itself, editable (palsy_core finds weights/ in this checkout).
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -e .

# The browser test drives Debian's chromium through Playwright (no browser download).
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then
        apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null
    else
        echo "chromium is not installed and cannot be installed here: the browser test will be skipped" >&2
    fi
fi

# tests/test_postgres.py starts a throwaway PostgreSQL server from Debian's postgresql
# package (as the postgres user: PostgreSQL refuses to run as root); skipped only where
# it cannot be installed.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then
        apt-get update -qq && apt-get install -y -qq postgresql >/dev/null \
            || echo "postgresql could not be installed: the PostgreSQL tests will be skipped" >&2
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update -qq && sudo apt-get install -y -qq postgresql >/dev/null \
            || echo "postgresql could not be installed: the PostgreSQL tests will be skipped" >&2
    else
        echo "postgresql is not installed and cannot be installed here: the PostgreSQL tests will be skipped" >&2
    fi
fi

export GLOG_minloglevel=2
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
