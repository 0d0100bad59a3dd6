#!/usr/bin/env bash
# test_sip_daemon.sh (registrations persisted write-behind, reloaded at restart, removed on
# un-REGISTER and expiry) on PostgreSQL: a throwaway server from with_postgres.sh, the daemon on
# storage.backend: postgres. Run by hand it starts its own server.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${ZTPD_TEST_PG_CTL:-}" ]; then
    exec bash "$here/with_postgres.sh" bash "$0" "$@"
fi
export ZTPD_TEST_BACKEND=postgres
exec bash "$here/test_sip_daemon.sh"
