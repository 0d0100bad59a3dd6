#!/usr/bin/env bash
# storage.postgres.password_file against a PostgreSQL role that must prove its password
# (scram-sha-256, set up by with_postgres.sh): the daemon logs in with the file's first line,
# the file wins over ZTPD_PG_PASSWORD which wins over the DSN's password, an unreadable file is
# a startup error naming the key, a file readable by others gets a warning, and the password
# never appears in the logs. Run by hand it starts its own server.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${ZTPD_TEST_PG_CTL:-}" ]; then
    exec bash "$here/with_postgres.sh" bash "$0" "$@"
fi
export ZTPD_TEST_BACKEND=postgres
. "$here/lib.sh"
unset ZTPD_PG_PASSWORD

PW=$ZTPD_TEST_PG_PW_PASSWORD
ZTPD_TEST_PG_DSN="host=$ZTPD_TEST_PG_HOST port=$ZTPD_TEST_PG_PORT dbname=$ZTPD_TEST_PG_PW_DB user=$ZTPD_TEST_PG_PW_USER"
PG_DB=$ZTPD_TEST_PG_PW_DB

# serve_fails WHAT: runs the daemon expecting a startup failure; its stderr goes to $WORK/fail.log.
serve_fails() {
    local rc=0
    timeout 30 "$ZTPD_BIN" serve -c "$WORK/config.yml" >/dev/null 2>"$WORK/fail.log" || rc=$?
    cat "$WORK/fail.log" >>"$WORK/daemon.log"
    check "$1: startup fails (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 124
}

# The file's first line, with CRLF and a second line that must be ignored.
printf '%s\r\nnot-the-password\n' "$PW" >"$WORK/pg.pw"
chmod 600 "$WORK/pg.pw"
ZTPD_TEST_STORAGE_EXTRA="password_file: pg.pw" # relative: resolved against config.yml's dir
write_config
start_daemon
req POST /api/provisioning/devices -d '{"mac_address":"02:dd:00:00:00:01","extension_number":"1001","vendor":"yealink","model":"t46s"}'
expect_status 201 "device written over a password-authenticated connection"
check "row is in the role's database" \
    test "$(db_query "select count(*) from provisioned_devices where mac_address = '02dd00000001'")" = 1
check "no permission warning for a 0600 file" bash -c "! grep -q 'readable by other users' '$WORK/daemon.log'"
stop_daemon TERM

# The file wins over the environment.
ZTPD_PG_PASSWORD=wrong-env-password start_daemon
req GET /api/status
check "password_file wins over ZTPD_PG_PASSWORD" test "$(json "j['storage']['status']")" = up
stop_daemon TERM

# Without the file: the environment wins over the DSN's password.
ZTPD_TEST_STORAGE_EXTRA=""
ZTPD_TEST_PG_DSN="$ZTPD_TEST_PG_DSN password=wrong-dsn-password"
write_config
ZTPD_PG_PASSWORD=$PW start_daemon
req GET /api/status
check "ZTPD_PG_PASSWORD wins over the DSN's password" test "$(json "j['storage']['status']")" = up
stop_daemon TERM
serve_fails "wrong password in the DSN and nothing else"
check "... with libpq's reason" grep -q 'password authentication failed' "$WORK/fail.log"
ZTPD_TEST_PG_DSN=${ZTPD_TEST_PG_DSN% password=*}

# A wrong password in the file is not rescued by a right one in the environment.
printf 'wrong-file-password\n' >"$WORK/bad.pw"
chmod 600 "$WORK/bad.pw"
ZTPD_TEST_STORAGE_EXTRA="password_file: $WORK/bad.pw"
write_config
ZTPD_PG_PASSWORD=$PW serve_fails "wrong password in the file"
check "... with libpq's reason" grep -q 'password authentication failed' "$WORK/fail.log"

# Missing, empty and group/world-readable files.
ZTPD_TEST_STORAGE_EXTRA="password_file: $WORK/missing.pw"
write_config
serve_fails "missing password file"
check "... names the key, the file and the reason" \
    grep -q "storage.postgres.password_file: cannot read $WORK/missing.pw: No such file or directory" "$WORK/fail.log"
: >"$WORK/empty.pw"
chmod 600 "$WORK/empty.pw"
ZTPD_TEST_STORAGE_EXTRA="password_file: $WORK/empty.pw"
write_config
serve_fails "empty password file"
check "... says the first line is empty" grep -q "storage.postgres.password_file: $WORK/empty.pw: the first line is empty" "$WORK/fail.log"
chmod 644 "$WORK/pg.pw"
ZTPD_TEST_STORAGE_EXTRA="password_file: $WORK/pg.pw"
write_config
start_daemon
check "a 0644 password file is used" test "$(status_field "j['storage']['status']")" = up
check "... with a warning naming the file" grep -q "storage.postgres.password_file: $WORK/pg.pw is readable by other users (mode 0644)" "$WORK/daemon.log"
stop_daemon TERM

check "the password never appears in the logs" bash -c "! grep -qF -- '$PW' '$WORK/daemon.log' '$WORK/daemon.out'"
finish
