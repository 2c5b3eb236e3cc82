#!/usr/bin/env bash
# Conformance: runs schemathesis against a real `parlor serve` and the document it serves
# (GET /api/schema/), so the OpenAPI document and the server cannot drift apart unnoticed.
#
# What it checks, over a few thousand generated requests: no 5xx (`not_a_server_error`), every
# status, content type, header and body as documented, and 405 with `Allow` for methods a
# path does not serve. Any finding fails the script (and CI, which runs it after the cargo
# tests).
#
# Usage: scripts/conformance.sh [extra schemathesis options]
#   PARLOR_BIN           the `parlor` binary (default: built with cargo, debug)
#   SCHEMATHESIS         the schemathesis command (default: `schemathesis` on PATH)
#   CONFORMANCE_EXAMPLES examples per operation and phase (default 100)
#   CONFORMANCE_SEED     a seed, to replay a failing run
# The server runs on SQLite in a temp dir; the store suite keeps the backends alike.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS=${SCHEMATHESIS:-schemathesis}
# A path (not a bare command name) is made absolute: schemathesis runs from a temp dir.
if [[ "$SCHEMATHESIS" == */* ]]; then
    SCHEMATHESIS=$(realpath "$SCHEMATHESIS")
fi
EXAMPLES=${CONFORMANCE_EXAMPLES:-100}

if [[ -z "${PARLOR_BIN:-}" ]]; then
    cargo build --quiet --bin parlor
    PARLOR_BIN="${CARGO_TARGET_DIR:-target}/debug/parlor"
fi

data_dir=$(mktemp -d)
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$data_dir"
}
trap cleanup EXIT

# A free port: bind port 0, read what the kernel gave, release it for the server.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"

RUST_LOG=${RUST_LOG:-warn} "$PARLOR_BIN" serve --data-dir "$data_dir" --listen "127.0.0.1:$port" \
    >"$data_dir/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 100); do
    if [[ -s "$data_dir/admin-key" ]] && curl -fsS "$base/readyz" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "conformance: the server exited early:" >&2
        cat "$data_dir/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
key=$(cat "$data_dir/admin-key")

seed_args=()
if [[ -n "${CONFORMANCE_SEED:-}" ]]; then
    seed_args=(--seed "$CONFORMANCE_SEED")
fi

# From the temp dir: schemathesis keeps a cache (`.schemathesis/`) in its working directory.
status=0
(cd "$data_dir" && "$SCHEMATHESIS" run "$base/api/schema/" \
    --header "Authorization: Api-Key $key" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,unsupported_method,allow_header_conformance \
    --max-examples "$EXAMPLES" \
    --workers 2 \
    --request-timeout 10 \
    --no-color \
    --generation-database none \
    "${seed_args[@]}" "$@") || status=$?

if grep -qiE "panicked|internal error" "$data_dir/server.log"; then
    echo "conformance: the server logged errors:" >&2
    grep -iE "panicked|internal error" "$data_dir/server.log" | head -20 >&2
    status=1
fi
exit "$status"
