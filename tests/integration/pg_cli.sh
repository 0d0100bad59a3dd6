#!/usr/bin/env bash
# The data tools test (test_cli.sh) again, with the daemon and the tools on a throwaway
# PostgreSQL from with_postgres.sh instead of sqlite. Fails (never skips) without PostgreSQL.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${ZTPD_TEST_PG_CTL:-}" ]; then
    exec bash "$here/with_postgres.sh" bash "$0" "$@"
fi
export ZTPD_TEST_BACKEND=postgres
exec bash "$here/test_cli.sh"
