#!/usr/bin/env bash
# Vendor fidelity: for every vendor and model, the requests its phones make at boot
# (VENDORS.md, docs/vendors.md) are replayed with the phone's User-Agent against a real daemon;
# status codes, content types and key lines are checked and every XML answer must pass
# xmllint. Also: the root URL, MACs in other written forms, path traversal, Polycom PUT
# uploads, and a drop-in vendor added to the running daemon with SIGHUP.
. "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/vendors" "$WORK/templates"
write_config "provisioning:
  vendors_dir: \"$WORK/vendors\"
  custom_templates_dir: \"$WORK/templates\"
  upload_max_size: 4096
  timezone_offset: -5"
start_daemon

# xmllint (libxml2-utils, in the Makefile's TEST_DEPS) is required: a missing tool fails the test
# instead of silently skipping the XML checks.
command -v xmllint >/dev/null || { echo "FAIL - xmllint not installed (apt-get install libxml2-utils)" >&2; exit 1; }
N=0

# get UA PATH [curl args]: GET as a phone would (no token, --path-as-is); sets STATUS, CTYPE and
# BODY (also kept in $WORK/last).
get() {
    local ua=$1 path=$2
    shift 2
    local meta
    meta=$(curl -s --path-as-is -A "$ua" -o "$WORK/last" -w '%{http_code} %{content_type}' "$@" \
        "http://127.0.0.1:$PORT$path")
    STATUS=${meta%% *}
    CTYPE=${meta#* }
    BODY=$(cat "$WORK/last")
}

# expect UA PATH STATUS [CTYPE [LINE...]]: one request and what its answer must be; an XML
# content type is also checked with xmllint.
expect() {
    local ua=$1 path=$2 want=$3 ctype=${4:-} line
    get "$ua" "$path"
    check "$path ($ua): status $STATUS, want $want" test "$STATUS" = "$want"
    [ "$want" = 200 ] || return 0
    if [ -n "$ctype" ]; then
        check "$path: content type '$CTYPE', want $ctype" test "${CTYPE%%;*}" = "$ctype"
    fi
    shift 4 || true
    for line in "$@"; do
        check "$path has: $line" contains "$BODY" "$line"
    done
    if [[ "$ctype" == *xml ]]; then
        N=$((N + 1))
        cp "$WORK/last" "$WORK/xml-$N.xml"
        check "$path: xmllint --noout" xmllint --noout "$WORK/xml-$N.xml"
    fi
}

# add_device MAC VENDOR MODEL [EXT]
add_device() {
    req POST /api/provisioning/devices -d "{\"mac_address\":\"$1\",\"extension_number\":\"${4:-1001}\",\"vendor\":\"$2\",\"model\":\"$3\"}"
    expect_status 201 "device $1 ($2 $3)"
}

NOT_FOUND_BODY=$(curl -s "http://127.0.0.1:$PORT/no/such/thing")

# ---- the API lists every vendor with what the admin sets ----
req GET /api/provisioning/vendors
expect_status 200 "vendors list"
check "vendors are the seven built-ins" test "$(json "','.join(j['vendors'])")" = \
    "cisco,fanvil,grandstream,polycom,snom,yealink,zultys"
check "yealink URL with {server} filled in" test \
    "$(json "j['details']['yealink']['provisioning_url']")" = "http://192.0.2.10:$PORT/provision/"
check "grandstream path without scheme" test \
    "$(json "j['details']['grandstream']['provisioning_url']")" = "192.0.2.10:$PORT/provision"
check "cisco URL keeps \$PSN" test \
    "$(json "j['details']['cisco']['provisioning_url']")" = "http://192.0.2.10:$PORT/provision/spa\$PSN.cfg"
check "cisco has no option 66" test "$(json "j['details']['cisco']['dhcp_option_66']")" = None
check "cisco MAC variable and reboot" test \
    "$(json "j['details']['cisco']['mac_variable'] + ' ' + j['details']['cisco']['reboot_event'] + ' ' + str(j['details']['cisco']['reboot_auth'])")" = '$MA resync True'
check "yealink t46s common_id 66, 16 lines" test \
    "$(json "'%s %s' % (j['details']['yealink']['models']['t46s']['common_id'], j['details']['yealink']['models']['t46s']['lines'])")" = "66 16"
check "polycom notes present" test -n "$(json "j['details']['polycom']['notes']")"
check "models map keeps the guide's shape" test "$(json "','.join(j['models']['zultys'])")" = "zip33g,zip37g"
VENDOR_JSON=$BODY

# every vendor x model gets a device: MAC = OUI + 6 digits
declare -A OUI=([yealink]=805ec0 [zultys]=000bea [polycom]=0004f2 [cisco]=8843e1
    [grandstream]=c074ad [fanvil]=0c383e [snom]=000413)
DEVICES=()
i=0
for v in cisco fanvil grandstream polycom snom yealink zultys; do
    for m in $(BODY=$VENDOR_JSON json "' '.join(j['models']['$v'])"); do
        i=$((i + 1))
        mac=${OUI[$v]}$(printf '%06d' "$i")
        add_device "$mac" "$v" "$m"
        DEVICES+=("$v:$m:$mac")
    done
done
check "a device for every model ($i)" test "$i" = "$(BODY=$VENDOR_JSON json "sum(len(x) for x in j['models'].values())")"

upper() { printf '%s' "$1" | tr a-f A-F; }

for dev in "${DEVICES[@]}"; do
    IFS=: read -r v m mac <<<"$dev"
    MAC=$(upper "$mac")
    label=$(BODY=$VENDOR_JSON json "j['details']['$v']['models']['$m']['label']")
    cid=$(BODY=$VENDOR_JSON json "j['details']['$v']['models']['$m']['common_id'] or ''")
    case $v in
    yealink)
        ua="Yealink SIP-${label%% *} $cid.86.0.15 $(printf '%s' "$mac" | sed 's/../&:/g;s/:$//')"
        expect "$ua" "/provision/$mac.boot" 404
        expect "$ua" /provision/y000000000000.boot 404
        expect "$ua" "/provision/y0000000000$cid.boot" 404
        expect "$ua" "/provision/y0000000000$cid.cfg" 200 text/plain "#!version:1.0.0.1" \
            "local_time.time_zone = -5"
        expect "$ua" "/provision/$mac.cfg" 200 text/plain "account.1.user_name = 1001" \
            "account.1.sip_server.1.address = 192.0.2.10"
        ;;
    zultys)
        ua="Zultys ${label} - 27.71.132.29"
        expect "$ua" "/provision/${m}_common.cfg" 200 text/plain "local_time.ntp_server1 = pool.ntp.org"
        expect "$ua" "/provision/$mac.cfg" 200 text/plain "account.1.user_name = 1001"
        # a URL set to .../{mac}.cfg: sent literally, then used as a directory (VENDORS.md §1.1)
        expect "$ua" "/provision/%7Bmac%7D.cfg" 404
        expect "$ua" "/provision/%7Bmac%7D.cfg/${m}_common.cfg" 200 text/plain "local_time"
        expect "$ua" "/provision/%7Bmac%7D.cfg/$mac.cfg" 200 text/plain "account.1.user_name = 1001"
        ;;
    polycom)
        ua="FileTransport PolycomVVX-VVX_${m#vvx}-UA/5.9.1.0615 Type/Application"
        expect "$ua" "/provision/$mac.cfg" 200 application/xml "CONFIG_FILES=\"$mac-ztpd.cfg\""
        expect "$ua" "/provision/$mac-ztpd.cfg" 200 application/xml "reg.1.address=\"1001\""
        expect "$ua" /provision/000000000000.cfg 404
        expect "$ua" /provision/000000000000-license.cfg 404
        expect "$ua" "/provision/$mac-license.cfg" 404
        expect "$ua" /provision/000000000000-directory.xml 404
        ;;
    cisco)
        psn=$(printf '%s' "$label" | sed 's/^SPA/spa/')
        ua="Cisco/$label-7.5.5 ($MAC)(CBT141100HR)"
        expect "$ua" "/provision/$psn.cfg" 200 application/xml \
            "<Profile_Rule>http://192.0.2.10:$PORT/provision/\$MA.xml</Profile_Rule>"
        expect "$ua" "/provision/$mac.xml" 200 application/xml "<flat-profile>" \
            "<User_ID_1_>1001</User_ID_1_>"
        expect "$ua" "/provision/$mac.cfg" 200 application/xml "<User_ID_1_>1001</User_ID_1_>"
        ;;
    grandstream)
        ua="Grandstream Model HW ${label} SW 1.0.7.97 DevId $mac"
        expect "$ua" "/provision/cfg$mac" 404
        expect "$ua" "/provision/cfg$mac.bin" 404
        expect "$ua" "/provision/cfg$mac.xml" 200 application/xml "<gs_provision" "<mac>$mac</mac>" ">1001<"
        expect "$ua" "/provision/cfg$m.xml" 200 application/xml "<P30>pool.ntp.org</P30>"
        expect "$ua" /provision/cfg.xml 404
        ;;
    fanvil)
        ua="Fanvil ${label} 2.10.2.6887 $mac"
        expect "$ua" "/provision/f0${label}hw1.100.cfg" 404
        expect "$ua" "/provision/F0V00${label}00000.cfg" 404
        expect "$ua" "/provision/$mac.cfg" 200 application/xml "<VOIP_CONFIG_FILE>" \
            "<Phone_Number>1001</Phone_Number>"
        ;;
    snom)
        ua="Mozilla/4.0 (compatible; snom${label}-SIP 10.1.33.33 2010.12-00004-g9ba52f5 $MAC SXM:0 UXM:0)"
        expect "$ua" "/provision/snom${label}.htm" 404
        expect "$ua" "/provision/snom${label}-$MAC.htm" 200 application/xml "<setting-files>" \
            "provision/$MAC.xml"
        expect "$ua" "/provision/$MAC.xml" 200 application/xml "<user_name idx=\"1\" perm=\"R\">1001</user_name>"
        expect "$ua" "/provision/$mac.xml" 200 application/xml "<phone-settings"
        ;;
    esac
done

# ---- another vendor's names for a known phone, unknown MACs, the 404 body ----
YL=805ec0$(printf '%06d' 1)
for dev in "${DEVICES[@]}"; do
    IFS=: read -r v m mac <<<"$dev"
    [ "$v" = yealink ] && YL=$mac && break
done
expect "curl" "/provision/cfg$YL.xml" 404
expect "curl" "/provision/$YL-ztpd.cfg" 404
get "Yealink SIP-T46S 66.86.0.15 80:5e:c0:99:99:99" /provision/805ec0999999.cfg
check "unknown MAC: 404" test "$STATUS" = 404
check "unknown MAC: same body as any 404" test "$BODY" = "$NOT_FOUND_BODY"
get curl /provision/nothing-here.cfg
check "unmatched name: same 404 body" test "$STATUS:$BODY" = "404:$NOT_FOUND_BODY"

# ---- the MAC in other written forms (the original guide's /provision/<mac>.cfg) ----
colon=$(printf '%s' "$YL" | sed 's/../&:/g;s/:$//')
for form in "$colon" "$(printf '%s' "$YL" | sed 's/../&-/g;s/-$//')" \
    "${YL:0:4}.${YL:4:4}.${YL:8:4}" "$(upper "$YL")" "$(printf '%s' "$colon" | sed 's/:/%3A/g')"; do
    expect curl "/provision/$form.cfg" 200 text/plain "account.1.user_name = 1001"
done

# ---- the root, for phones configured with a bare host; the API still wins ----
expect curl "/$YL.cfg" 200 text/plain "account.1.user_name = 1001"
expect curl /y000000000066.cfg 200 text/plain "#!version:1.0.0.1"
expect curl "/%7Bmac%7D.cfg/$YL.cfg" 200 text/plain "account.1.user_name = 1001"
expect curl "/$YL.boot" 404
raw GET /api/status
check "/api/status still answers JSON" contains "$BODY" '"status"'
raw POST /api/status
expect_status 405 "POST /api/status is still 405"
raw DELETE "/$YL.cfg"
expect_status 404 "DELETE at the root: 404"

# ---- path traversal: never a file outside, 400 or 404 ----
for p in "/provision/../config.yml" "/provision/%2e%2e/config.yml" "/provision/%2e%2e%2fconfig.yml" \
    "/provision/..%2fconfig.yml" "/provision/..%2Fdata%2Fztpd.db" "/provision/%252e%252e%252fconfig.yml" \
    "/provision/..%5cconfig.yml" "/provision/..\\config.yml" "/provision/$YL.cfg%00.xml" \
    "/provision/%00" "/../config.yml" "/provision/./$YL.cfg" "/provision/uploads/../../config.yml"; do
    get curl "$p"
    check "traversal $p refused ($STATUS)" test "$STATUS" = 400 -o "$STATUS" = 404
    check "traversal $p leaks nothing" test "$(grep -c 'tokens\|SQLite' "$WORK/last" || true)" = 0
done

# ---- Polycom uploads ----
PC=""
PC2=""
for dev in "${DEVICES[@]}"; do
    IFS=: read -r v m mac <<<"$dev"
    if [ "$v" = polycom ]; then
        if [ -z "$PC" ]; then PC=$mac; elif [ -z "$PC2" ]; then PC2=$mac; fi
    fi
done
PUA="FileTransport PolycomVVX-VVX_450-UA/5.9.1.0615 Type/Application"
for f in app.log boot.log phone.cfg web.cfg directory.xml; do
    printf 'upload %s for %s\n' "$f" "$PC" >"$WORK/up"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -A "$PUA" -T "$WORK/up" \
        "http://127.0.0.1:$PORT/provision/$PC-$f")
    check "PUT $PC-$f: $code, want 201" test "$code" = 201
    check "stored as data/uploads/$PC/$PC-$f" cmp -s "$WORK/up" "$WORK/data/uploads/$PC/$PC-$f"
    check "$PC-$f is not executable" test ! -x "$WORK/data/uploads/$PC/$PC-$f"
done
printf '<PHONE_CONFIG><OVERRIDES up.backlight="1"/></PHONE_CONFIG>\n' >"$WORK/override"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -A "$PUA" -T "$WORK/override" \
    "http://127.0.0.1:$PORT/$PC-phone.cfg")
check "PUT at the root: $code, want 201" test "$code" = 201
get "$PUA" "/provision/$PC-phone.cfg"
check "GET $PC-phone.cfg reads the override back" test "$STATUS:$BODY" = "200:$(cat "$WORK/override")"
get "$PUA" "/provision/$PC2-phone.cfg"
check "another MAC cannot read it (404)" test "$STATUS" = 404
check "nothing stored for the other MAC" test ! -e "$WORK/data/uploads/$PC2"
head -c 5000 /dev/zero | tr '\0' 'x' >"$WORK/big"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -A "$PUA" -T "$WORK/big" \
    "http://127.0.0.1:$PORT/provision/$PC-app.log")
check "PUT over upload_max_size: $code, want 413" test "$code" = 413
check "the stored log is unchanged" cmp -s "$WORK/data/uploads/$PC/$PC-app.log" <(printf 'upload app.log for %s\n' "$PC")
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -A "$PUA" -T "$WORK/up" \
    "http://127.0.0.1:$PORT/provision/0004f2999999-app.log")
check "PUT for an unknown MAC refused: $code" test "$code" = 404
check "nothing stored for the unknown MAC" test ! -e "$WORK/data/uploads/0004f2999999"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -A "$PUA" -T "$WORK/up" \
    "http://127.0.0.1:$PORT/provision/$PC.cfg")
check "PUT on a config name refused: $code" test "$code" = 404
get "$PUA" "/provision/$PC.cfg"
check "the master file is unchanged by the PUT" contains "$BODY" "CONFIG_FILES=\"$PC-ztpd.cfg\""
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -A "$PUA" -T "$WORK/up" \
    "http://127.0.0.1:$PORT/provision/$PC-..%2f..%2fevil.log")
check "PUT with a traversal name refused: $code" test "$code" = 400 -o "$code" = 404
check "no file escaped the uploads directory" test -z "$(find "$WORK" -name 'evil.log')"

# ---- a drop-in vendor: copied in, SIGHUP, listed and served ----
cp "$ZTPD_SOURCE_DIR/examples/vendors/acme.lua" "$WORK/vendors/"
cp "$ZTPD_SOURCE_DIR"/examples/vendors/acme_x*.cfg "$WORK/templates/"
kill -HUP "$PID"
acme_listed() {
    req GET /api/provisioning/vendors
    contains "$BODY" '"acme"'
}
check "acme appears after SIGHUP" wait_for 5 acme_listed
check "acme URL filled in" test "$(json "j['details']['acme']['provisioning_url']")" = "http://192.0.2.10:$PORT/provision/"
check "acme models" test "$(json "','.join(j['models']['acme'])")" = "x100,x200"
add_device 00a0b0000001 acme x100
expect "Acme X100 1.2.3 00a0b0000001" /provision/00a0b0000001.cfg 200 text/plain "line.1.user = 1001"
expect "Acme X100 1.2.3 00a0b0000001" /provision/00a0b0000001.boot 404
expect "Acme X100 1.2.3 00a0b0000001" /provision/acme-x100.cfg 404
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -T "$WORK/up" "http://127.0.0.1:$PORT/provision/00a0b0000001-crash.log")
check "acme upload entry accepted: $code" test "$code" = 201

check "daemon still running" kill -0 "$PID"
stop_daemon TERM
finish
