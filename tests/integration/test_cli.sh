#!/usr/bin/env bash
# The data tools (`ztpd devices …`, `ztpd registrations cleanup`, `ztpd db …`) against a real
# daemon over loopback, and offline on its sqlite file: table and JSON listing, add/remove,
# export → clear → import round trip, CSV import, a bad file reported line by line with nothing
# changed, confirmation of clear, on-demand registration cleanup with the guide's five rows,
# the data_dir lock between daemon and offline tools, db verify and db migrate.
# Runs on sqlite; test_cli_postgres.sh runs it again on a throwaway PostgreSQL
# (ZTPD_TEST_BACKEND=postgres).
. "$(dirname "$0")/lib.sh"
BACKEND=${ZTPD_TEST_BACKEND:-sqlite}
if [ "$BACKEND" = postgres ]; then pg_use_db cli; fi

# cli ARGS...: runs ztpd with the test config; sets RC, OUT, ERR.
cli() {
    local rc=0
    "$ZTPD_BIN" "$@" -c "$WORK/config.yml" >"$WORK/cli.out" 2>"$WORK/cli.err" </dev/null || rc=$?
    RC=$rc
    OUT=$(cat "$WORK/cli.out")
    ERR=$(cat "$WORK/cli.err")
}

# api_devices: the daemon's device MACs, sorted, one per line.
api_devices() {
    req GET /api/provisioning/devices
    json "'\n'.join(sorted(d['mac_address'] for d in j))"
}

# device_set FILE: mac|extension|vendor|model lines (sorted) of an exported JSON file.
device_set() {
    python3 -c "import json,sys; print('\n'.join(sorted('|'.join((d['mac_address'],d['extension_number'],d['vendor'],d['model'])) for d in json.load(open(sys.argv[1])))))" "$1"
}

write_config
start_daemon

# --- help and usage ---
"$ZTPD_BIN" help >"$WORK/help.out"
check "help lists the data tools" grep -q "devices import FILE" "$WORK/help.out"
check "help lists db verify" grep -q "db verify" "$WORK/help.out"
cli devices import --help
check "devices import --help exits 0" test "$RC" = 0
check "import help names the CSV header" contains "$OUT" "mac,extension,vendor,model"
cli devices frobnicate
check "unknown subcommand is a usage error (2)" test "$RC" = 2
cli devices add 001565123456
check "add with too few arguments is a usage error (2)" test "$RC" = 2

# --- online: list, add, remove ---
cli devices list
check "empty list exits 0" test "$RC" = 0
check "table header" contains "$OUT" "MAC                EXTENSION  VENDOR  MODEL  LAST PROVISIONED"
cli devices add 00-15-65-12-34-56 1001 yealink t46s
check "add exits 0" test "$RC" = 0
check "add reports the device" contains "$OUT" "registered 00:15:65:12:34:56 for extension 1001"
cli devices add 0004F2ABCDEF 1002 polycom vvx450
check "second add exits 0" test "$RC" = 0
cli devices add 00:15:65:12:34 1001 yealink t46s
check "bad MAC: exit 1" test "$RC" = 1
check "bad MAC: the API's error and field" contains "$ERR" "mac_address: '00:15:65:12:34' is not a MAC address"
check "bad MAC: field named" contains "$ERR" "field mac_address"
cli devices add 001565123456 1001 yealink t46s
check "duplicate: exit 1" test "$RC" = 1
check "duplicate: 409 reported" contains "$ERR" "already registered"
check "daemon memory has both devices" test "$(api_devices | tr '\n' ' ')" = "0004f2abcdef 001565123456 "

cli devices list
check "table lists the colon MAC" contains "$OUT" "00:15:65:12:34:56  1001       yealink  t46s    never"
check "table lists the second device" contains "$OUT" "00:04:f2:ab:cd:ef  1002       polycom  vvx450  never"
cli devices list --json
check "list --json exits 0" test "$RC" = 0
BODY=$OUT
check "list --json is the API's array" test "$(json "len(j), sorted(j[0].keys())")" = "2 ['config_url', 'created_at', 'extension_number', 'last_provisioned', 'mac_address', 'model', 'vendor']"

cli devices remove 00:04:f2:ab:cd:ef
check "remove exits 0" test "$RC" = 0
check "removed from the daemon's memory" test "$(api_devices)" = "001565123456"
cli devices remove 00:04:f2:ab:cd:ef
check "remove unknown: exit 1" test "$RC" = 1
check "remove unknown: 404 reported" contains "$ERR" "not registered"

# --- export -> clear -> import round trip ---
cli devices add 001565aabbcc 1002 yealink t46s
cli devices add 0004f2000001 1001 polycom vvx450
"$ZTPD_BIN" devices export -c "$WORK/config.yml" >"$WORK/export.json"
check "export has 3 devices" test "$(device_set "$WORK/export.json" | wc -l)" = 3
cli devices clear
check "clear without a tty and without --yes is refused (2)" test "$RC" = 2
check "clear refusal says why" contains "$ERR" "stdin is not a terminal; pass --yes"
check "refused clear deleted nothing" test "$(api_devices | wc -l)" = 3
req DELETE /api/provisioning/devices
expect_status 400 "DELETE all without confirm=all"
check "400 names confirm" test "$(json "j['field']")" = confirm
cli devices clear --yes
check "clear --yes exits 0" test "$RC" = 0
check "clear reports the count" contains "$OUT" "deleted 3 devices"
check "daemon memory is empty" test -z "$(api_devices)"
check "database is empty" test "$(db_query 'select count(*) from provisioned_devices')" = 0
cli devices import "$WORK/export.json"
check "import of the export exits 0" test "$RC" = 0
check "import reports the count" contains "$OUT" "imported 3 devices"
"$ZTPD_BIN" devices export -c "$WORK/config.yml" >"$WORK/export2.json"
check "round trip: same devices" test "$(device_set "$WORK/export.json")" = "$(device_set "$WORK/export2.json")"
check "import wrote no progress to a non-tty" test -z "$ERR"

# --- CSV import (BOM, CRLF, quoted fields, column order, blank lines), via stdin too ---
printf '\xef\xbb\xbfmac,extension,vendor,model\r\n"00:15:65:00:00:01",1001,yealink,t46s\r\n\r\n00-15-65-00-00-02,"1002",yealink,t46s\r\n' >"$WORK/good.csv"
cli devices import "$WORK/good.csv"
check "CSV import exits 0" test "$RC" = 0
check "CSV import: 2 devices" contains "$OUT" "imported 2 devices from $WORK/good.csv"
printf 'model,vendor,extension,mac\nt46s,yealink,1002,001565000003\n' |
    "$ZTPD_BIN" devices import - -c "$WORK/config.yml" >"$WORK/cli.out" 2>&1
check "CSV from stdin" grep -q "imported 1 devices from stdin" "$WORK/cli.out"
check "daemon now has 6 devices" test "$(api_devices | wc -l)" = 6

# --- a bad CSV: every bad row reported with its line, nothing changed ---
before=$(api_devices)
cat >"$WORK/bad.csv" <<'CSV'
mac,extension,vendor,model
00:15:65:00:00:10,1001,yealink,t46s
00:11:22,1001,yealink,t46s
00:15:65:00:00:11,1001,nosuchvendor,t46s
00:15:65:00:00:12,1001,yealink,t46s
00:15:65:00:00:13,4444,yealink,t46s
CSV
cli devices import "$WORK/bad.csv"
check "bad CSV: exit 1" test "$RC" = 1
check "bad CSV: line 3 (MAC)" contains "$ERR" "bad.csv:3: mac_address: '00:11:22' is not a MAC address"
check "bad CSV: line 4 (vendor)" contains "$ERR" "bad.csv:4: vendor: unknown vendor 'nosuchvendor'"
check "bad CSV: line 6 (extension)" contains "$ERR" "bad.csv:6: extension_number: extension '4444' does not exist"
check "bad CSV: exactly 3 line-numbered errors" test "$(grep -c "bad.csv:[0-9]*:" "$WORK/cli.err")" = 3
check "bad CSV: says nothing was imported" contains "$ERR" "3 problems in $WORK/bad.csv; nothing was imported"
check "bad CSV: no device changed" test "$(api_devices)" = "$before"

# duplicates inside the file and MACs already registered
printf '[\n {"mac_address":"001565777777","extension_number":"1001","vendor":"yealink","model":"t46s"},\n {"mac_address":"00:15:65:77:77:77","extension_number":"1002","vendor":"yealink","model":"t46s"},\n {"mac_address":"001565000001","extension_number":"1001","vendor":"yealink","model":"t46s"}\n]\n' >"$WORK/dup.json"
cli devices import "$WORK/dup.json"
check "dup JSON: exit 1" test "$RC" = 1
check "dup JSON: line 3 repeats line 2" contains "$ERR" "dup.json:3: mac_address: device 001565777777 appears more than once in the file (first on line 2)"
check "dup JSON: line 4 already registered" contains "$ERR" "dup.json:4: mac_address: device 001565000001 is already registered"
check "dup JSON: no device changed" test "$(api_devices)" = "$before"

# --- registration cleanup on demand, the guide's five rows ---
# Inserted while the daemon runs: it keeps no registrations in memory, and the startup cleanup
# would remove them before the on-demand one could be seen.
db_query "INSERT INTO registered_phones (id, mac_address, ip_address, extension_number) VALUES
  (1, '001565123456', '192.168.1.100', '1001'),
  (2, NULL,           '192.168.1.101', '1002'),
  (3, '001565abcdef', NULL,            '1003'),
  (4, '001565112233', '192.168.1.102', NULL),
  (5, '001565445566', '192.168.1.103', '1005')"
: >"$WORK/daemon.log"
cli registrations cleanup
check "cleanup exits 0" test "$RC" = 0
check "cleanup prints removed" contains "$OUT" "Removed 3 incomplete phone registrations"
check "cleanup prints kept" contains "$OUT" "Kept 2 complete phone registrations"
check "daemon logs the same line as at startup" grep -q "INFO.*cleanup: Removed 3 incomplete phone registrations" "$WORK/daemon.log"
check "daemon logs kept" grep -q "Kept 2 complete phone registrations" "$WORK/daemon.log"
check "rows 1 and 5 remain" test "$(db_query 'select id from registered_phones order by id' | tr '\n' ,)" = "1,5,"
raw POST /api/registrations/cleanup
expect_status 401 "cleanup API needs the token"

# --- the lock: offline tools and a second daemon refused while the daemon runs ---
cli devices list --offline
check "offline refused while the daemon runs" test "$RC" = 1
check "offline refusal names the pid" contains "$ERR" "a ztpd daemon (pid $PID) is using this database; stop it or drop --offline"
cli db migrate
check "db migrate refused while the daemon runs" test "$RC" = 1
check "db migrate refusal names the pid" contains "$ERR" "(pid $PID)"
rc=0
"$ZTPD_BIN" serve -c "$WORK/config.yml" >/dev/null 2>"$WORK/second.err" || rc=$?
check "a second daemon refuses to start" test "$rc" = 1
check "second daemon names the first's pid" grep -q "another ztpd process (pid $PID)" "$WORK/second.err"
cli db verify
check "db verify ok next to the running daemon" test "$RC" = 0
check "verify counts devices" contains "$OUT" "provisioned_devices    6 rows"
check "verify names the schema version" contains "$OUT" "schema:      version"
check "verify ok" contains "$OUT" "verify:      ok"
saved=$(device_set <("$ZTPD_BIN" devices export -c "$WORK/config.yml"))
stop_daemon TERM

# --- unreachable daemon ---
cli devices list
check "unreachable: exit 1" test "$RC" = 1
check "unreachable: clear message" contains "$ERR" "cannot reach ztpd at 127.0.0.1:$PORT: Connection refused (is the daemon running? use --offline to work on the database directly)"

# --- offline, daemon stopped ---
cli devices list --offline
check "offline list works once the daemon stopped" test "$RC" = 0
check "offline list shows the devices" contains "$OUT" "00:15:65:00:00:01"
cli devices add 001565999999 1002 yealink t46s --offline
check "offline add" test "$RC" = 0
cli devices add 001565999998 1002 yealink t99 --offline
check "offline add validates like the API" contains "$ERR" "model: vendor yealink has no model 't99'"
check "offline add validation exit 1" test "$RC" = 1
cli devices import "$WORK/bad.csv" --offline
check "offline bad CSV: the same 3 errors" test "$(grep -c "bad.csv:[0-9]*:" "$WORK/cli.err")" = 3
check "offline bad CSV: line 6" contains "$ERR" "bad.csv:6: extension_number: extension '4444' does not exist"
cli devices remove 001565999999 --offline
check "offline remove" test "$RC" = 0
check "database unchanged by the failed offline import" test "$(db_query 'select count(*) from provisioned_devices')" = 6
cli devices export --offline --format csv
check "offline CSV export" test "$RC" = 0
printf '%s\n' "$OUT" >"$WORK/offline.csv"
check "CSV export header" test "$(head -1 "$WORK/offline.csv")" = "mac,extension,vendor,model"
cli devices clear --offline --yes
check "offline clear" contains "$OUT" "deleted 6 devices"
cli devices import "$WORK/offline.csv" --offline
check "offline CSV import of the CSV export" contains "$OUT" "imported 6 devices"
db_query "INSERT INTO registered_phones (id, mac_address, ip_address, extension_number) VALUES (6, '', '192.168.1.104', '1006'), (7, '001565778899', '192.168.1.105', '1007')"
cli registrations cleanup --offline
check "offline cleanup removed 1" contains "$OUT" "Removed 1 incomplete phone registrations"
check "offline cleanup kept 3" contains "$OUT" "Kept 3 complete phone registrations"

# the daemon starts again on what the offline tools wrote
start_daemon
check "restarted daemon has the offline import" test "$(device_set <("$ZTPD_BIN" devices export -c "$WORK/config.yml"))" = "$saved"
stop_daemon TERM

# --- db verify failures and db migrate, on a second database ---
mkdir -p "$WORK/other"
if [ "$BACKEND" = sqlite ]; then
    sed -e "s|data_dir: \"data\"|data_dir: \"other/data\"|" "$WORK/config.yml" >"$WORK/other.yml"
    rc=0
    "$ZTPD_BIN" db verify -c "$WORK/other.yml" >"$WORK/v.out" 2>"$WORK/v.err" || rc=$?
    check "verify on a missing database fails" test "$rc" = 1
    check "verify names the missing file" grep -q "other/data/ztpd.db does not exist" "$WORK/v.err"
    check "verify did not create it" test ! -e "$WORK/other/data/ztpd.db"
else
    sed -e "s|dbname=cli |dbname=cli_missing |" -e "s|data_dir: \"data\"|data_dir: \"other/data\"|" \
        "$WORK/config.yml" >"$WORK/missing.yml"
    rc=0
    "$ZTPD_BIN" db verify -c "$WORK/missing.yml" >"$WORK/v.out" 2>"$WORK/v.err" || rc=$?
    check "verify on a missing database fails" test "$rc" = 1
    check "verify says it cannot open it" grep -q "cannot open the database" "$WORK/v.err"
    pg_use_db cli_other
    sed -e "s|dbname=cli |dbname=cli_other |" -e "s|data_dir: \"data\"|data_dir: \"other/data\"|" \
        "$WORK/config.yml" >"$WORK/other.yml"
    rc=0
    "$ZTPD_BIN" db verify -c "$WORK/other.yml" >"$WORK/v.out" 2>"$WORK/v.err" || rc=$?
    check "verify on an empty database fails" test "$rc" = 1
    check "verify says there is no schema" grep -q "no schema in the database" "$WORK/v.err"
fi
"$ZTPD_BIN" db migrate -c "$WORK/other.yml" >"$WORK/m.out" 2>&1
check "migrate creates the schema" grep -Eq "^schema at version [1-9][0-9]* \(was 0\)$" "$WORK/m.out"
v=$(sed -n 's/^schema at version \([0-9]*\).*/\1/p' "$WORK/m.out")
"$ZTPD_BIN" db migrate -c "$WORK/other.yml" >"$WORK/m.out" 2>&1
check "migrate again changes nothing" grep -q "^schema at version $v (was $v)$" "$WORK/m.out"
rc=0
"$ZTPD_BIN" db verify -c "$WORK/other.yml" >"$WORK/v.out" 2>&1 || rc=$?
check "verify after migrate is ok" test "$rc" = 0
check "verify reports the migrated version" grep -q "schema:      version $v" "$WORK/v.out"
check "verify names the version this ztpd expects" grep -q "schema:      version $v (this ztpd expects $v)$" "$WORK/v.out"
# other_sql SQL: runs SQL on the second database.
other_sql() {
    if [ "$BACKEND" = sqlite ]; then sqlite3 "$WORK/other/data/ztpd.db" "$1"; else db_query "$1"; fi
}
other_sql "UPDATE schema_version SET version = version + 90 WHERE version = $v"
rc=0
"$ZTPD_BIN" db verify -c "$WORK/other.yml" >"$WORK/v.out" 2>"$WORK/v.err" || rc=$?
check "verify of a newer schema fails" test "$rc" = 1
check "verify names both versions" grep -q "schema:      version $((v + 90)) (this ztpd expects $v)$" "$WORK/v.out"
check "verify says to upgrade ztpd" grep -q "is newer than this ztpd knows ($v): upgrade ztpd" "$WORK/v.err"
other_sql "UPDATE schema_version SET version = $((v - 1)) WHERE version = $((v + 90))"
rc=0
"$ZTPD_BIN" db verify -c "$WORK/other.yml" >"$WORK/v.out" 2>"$WORK/v.err" || rc=$?
check "verify of an older schema fails" test "$rc" = 1
if [ "$v" -gt 1 ]; then
    check "verify says to migrate" grep -q "schema version $((v - 1)) is older than this ztpd's $v: run ztpd db migrate" "$WORK/v.err"
else
    check "verify says to migrate" grep -q "no schema in the database: run ztpd db migrate" "$WORK/v.err"
fi
other_sql "UPDATE schema_version SET version = $v WHERE version = $((v - 1))"
rc=0
"$ZTPD_BIN" db verify -c "$WORK/other.yml" >"$WORK/v.out" 2>&1 || rc=$?
check "verify ok again, and it changed nothing" test "$rc" = 0
if [ "$BACKEND" = sqlite ]; then
    head -c 8192 /dev/urandom >"$WORK/other/data/ztpd.db"
    rm -f "$WORK/other/data/ztpd.db-wal" "$WORK/other/data/ztpd.db-shm"
    rc=0
    "$ZTPD_BIN" db verify -c "$WORK/other.yml" >"$WORK/v.out" 2>"$WORK/v.err" || rc=$?
    check "verify on a corrupt database fails" test "$rc" = 1
    check "verify says it cannot open it" grep -q "cannot open the database" "$WORK/v.err"
else
    db_query "DROP TABLE discovered_devices"
    rc=0
    "$ZTPD_BIN" db verify -c "$WORK/other.yml" >"$WORK/v.out" 2>"$WORK/v.err" || rc=$?
    check "verify with a dropped table fails" test "$rc" = 1
    check "verify names the missing table" grep -q "discovered_devices.*MISSING" "$WORK/v.out"
fi

# --- token from data_dir/api-token when api.tokens is empty ---
sed -i -e '/^api:/d' -e '/^  tokens:/d' "$WORK/config.yml"
start_daemon
cli devices list
check "generated token read from data_dir/api-token" test "$RC" = 0
stop_daemon TERM

finish
