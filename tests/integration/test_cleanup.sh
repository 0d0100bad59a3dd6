#!/usr/bin/env bash
# Registration cleanup at startup, with the original guide's five-row example: rows missing the
# MAC, the IP or the extension (NULL or empty) are removed, complete rows are kept, both counts
# are logged.
. "$(dirname "$0")/lib.sh"

write_config
start_daemon # creates the database and its schema
stop_daemon TERM
check "first start logs an empty cleanup" grep -q "Removed 0 incomplete phone registrations" "$WORK/daemon.log"

db="$WORK/data/ztpd.db"
sqlite3 "$db" <<'SQL'
INSERT INTO registered_phones (id, mac_address, ip_address, extension_number) VALUES
  (1, '001565123456', '192.168.1.100', '1001'),
  (2, NULL,           '192.168.1.101', '1002'),
  (3, '001565abcdef', NULL,            '1003'),
  (4, '001565112233', '192.168.1.102', NULL),
  (5, '001565445566', '192.168.1.103', '1005');
SQL
check "five rows before the restart" test "$(sqlite3 "$db" 'select count(*) from registered_phones')" = 5

: >"$WORK/daemon.log"
start_daemon
check "log: Removed 3 incomplete phone registrations" grep -q "Removed 3 incomplete phone registrations" "$WORK/daemon.log"
check "log: Kept 2 complete phone registrations" grep -q "Kept 2 complete phone registrations" "$WORK/daemon.log"
check "cleanup logged at INFO" grep -q "INFO.*Removed 3 incomplete phone registrations" "$WORK/daemon.log"
stop_daemon TERM
check "exactly rows 1 and 5 remain" test "$(sqlite3 "$db" 'select group_concat(id) from (select id from registered_phones order by id)')" = "1,5"

# Empty strings count as missing too.
sqlite3 "$db" "INSERT INTO registered_phones (id, mac_address, ip_address, extension_number) VALUES (6, '', '192.168.1.104', '1006'), (7, '001565778899', '192.168.1.105', '')"
: >"$WORK/daemon.log"
start_daemon
check "empty strings removed" grep -q "Removed 2 incomplete phone registrations" "$WORK/daemon.log"
check "complete rows still kept" grep -q "Kept 2 complete phone registrations" "$WORK/daemon.log"
stop_daemon TERM
check "rows 1 and 5 still there" test "$(sqlite3 "$db" 'select group_concat(id) from (select id from registered_phones order by id)')" = "1,5"

finish
