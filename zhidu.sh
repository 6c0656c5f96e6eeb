#!/usr/bin/env bash
# zhidu: the two commands of the README.
#   ./zhidu.sh run    install into .venv if needed, then start the dev stack (`zhidu dev`)
#   ./zhidu.sh test   install into .venv if needed, then lint, type-check and run the tests
# Extra arguments go to `zhidu dev` / pytest. PYTHON selects the interpreter for a new .venv.
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
STAMP="$VENV/.zhidu-installed"

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        echo "zhidu: creating $VENV" >&2
        "${PYTHON:-python3}" -m venv "$VENV"
    fi
    # Skip pip when the install is newer than pyproject.toml and zhidu is importable.
    if [ -f "$STAMP" ] && [ "$STAMP" -nt pyproject.toml ] && [ -x "$VENV/bin/zhidu" ]; then
        return
    fi
    echo "zhidu: installing zhidu and its test tools into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
    touch "$STAMP"
}

run_tests() {
    local status=0 pytest_status=0
    local -a timeout_args=()
    "$VENV/bin/ruff" check . || status=1
    "$VENV/bin/ruff" format --check . || status=1
    "$VENV/bin/mypy" workflows activities starter store worker.py settings.py || status=1
    if "$VENV/bin/python" -c "import pytest_timeout" 2>/dev/null; then
        timeout_args=(--timeout=300)
    fi
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider ${timeout_args[@]+"${timeout_args[@]}"} "$@" \
        || pytest_status=$?
    if [ "$pytest_status" -ne 0 ]; then
        return "$pytest_status"
    fi
    if [ "$status" -ne 0 ]; then
        echo "zhidu: tests passed, but lint / format / type checks failed (see above)" >&2
    fi
    return "$status"
}

case "${1:-}" in
run)
    shift
    ensure_venv
    exec "$VENV/bin/zhidu" dev "$@"
    ;;
test)
    shift
    ensure_venv
    run_tests "$@"
    ;;
*)
    echo "usage: $0 run | test [pytest arguments]" >&2
    exit 2
    ;;
esac
