#!/usr/bin/env bash
# `ztpd template list|show|render|check` without a daemon: list names each model's template and
# its source (a custom file, also in the guide's vendor_model.template naming, overrides the
# built-in one); show prints it; render fills in the extension from config.yml (or placeholders
# for an unknown one) with values escaped, so a hostile name adds no setting; check reports each
# problem of a bad directory as file:line and exits 1, and passes the built-in templates.
. "$(dirname "$0")/lib.sh"

write_config 'provisioning:
  custom_templates_dir: "custom"'
mkdir -p "$WORK/custom"
cd "$WORK"
Z() { "$ZTPD_BIN" "$@" -c "$WORK/config.yml"; }

# list
out=$(Z template list)
check "list: header" contains "$out" "VENDOR"
check "list: yealink t46s from the built-in dir" bash -c "grep -Eq '^yealink +t46s +device +built-in +yealink_t46s.cfg' <<<'$out'"
check "list: every vendor" bash -c "for v in cisco fanvil grandstream polycom snom yealink zultys; do grep -q \"^\$v \" <<<'$out' || exit 1; done"

# a custom override in the guide's naming wins for that model only
printf '#!version:1.0.0.1\naccount.1.label = {{EXTENSION_NAME}}\ncustom.marker = 1\n' >custom/yealink_t46s.template
out=$(Z template list)
check "list: custom .template overrides" bash -c "grep -Eq '^yealink +t46s +device +custom +yealink_t46s.template' <<<'$out'"
check "list: other models stay built-in" bash -c "grep -Eq '^yealink +t48s +device +built-in' <<<'$out'"

# show
out=$(Z template show yealink t46s 2>"$WORK/show.err")
check "show: the custom template source" contains "$out" "custom.marker = 1"
check "show: placeholders unrendered" contains "$out" "{{EXTENSION_NAME}}"
check "show: the path on stderr" grep -q "custom/yealink_t46s.template (custom)" "$WORK/show.err"
out=$(Z template show zultys zip37g 2>/dev/null)
check "show: a built-in template" contains "$out" "{{"
rc=0
Z template show yealink nosuch >/dev/null 2>"$WORK/err" || rc=$?
check "show: unknown model fails" test "$rc" = 1
check "show: the error names the model" grep -q "model: vendor yealink has no model 'nosuch'" "$WORK/err"
rc=0
Z template show >/dev/null 2>&1 || rc=$?
check "show: missing arguments is a usage error" test "$rc" = 2

# render with the extension from config.yml
rm custom/yealink_t46s.template
out=$(Z template render --vendor yealink --model t46s --extension 1001 --mac 00:15:65:12:34:56 2>"$WORK/err")
check "render: extension name from config.yml" contains "$out" "Alice Example"
check "render: password from config.yml" contains "$out" "s3cret-1001"
check "render: server address" contains "$out" "192.0.2.10"
check "render: no placeholder note for a known extension" test ! -s "$WORK/err"
check "render: no unrendered placeholder" bash -c '! grep -q "{{" <<<"$0"' "$out"

# an unknown extension renders with placeholders and says so
out=$(Z template render --vendor polycom --model vvx450 --extension 4242 2>"$WORK/err")
check "render: unknown extension noted" grep -q "extension 4242 is in neither config.yml nor the database" "$WORK/err"
check "render: placeholder name" contains "$out" "Test Phone"
check "render: XML well-formed (xmllint)" bash -c 'xmllint --noout - <<<"$0"' "$out"

# a hostile name stays one escaped value in every format
evil=$'Eve & <b> "q"\naccount.1.sip_server.1.address = evil'
out=$(Z template render --vendor yealink --model t46s --extension 1001 --name "$evil")
check "render ini: the injected line is no setting" bash -c '! grep -q "^account.1.sip_server.1.address = evil" <<<"$0"' "$out"
check "render ini: one sip_server address line" test "$(grep -c '^account.1.sip_server.1.address' <<<"$out")" = 1
out=$(Z template render --vendor cisco --model spa504g --extension 1001 --name "$evil")
check "render xml: entities escaped" contains "$out" "Eve &amp; &lt;b&gt;"
check "render xml: well-formed with the hostile name" bash -c 'xmllint --noout - <<<"$0"' "$out"
rc=0
Z template render --vendor yealink --model t46s >/dev/null 2>"$WORK/err" || rc=$?
check "render: missing --extension is a usage error" test "$rc" = 2
check "render: names the option" grep -q -- "--extension: required" "$WORK/err"
rc=0
Z template render --vendor yealink --model t46s --extension 1001 --mac zz >/dev/null 2>"$WORK/err" || rc=$?
check "render: bad MAC fails" test "$rc" = 1

# check on a bad directory: three problems, three lines, exit 1
mkdir -p bad
printf '#!version:1.0.0.1\n{{#codecs}}\ncodec = 1\n' >bad/yealink_t46s.cfg                    # unclosed section, line 2
printf '#!version:1.0.0.1\naccount.1.label = {{EXTENSION_NAM}}\n' >bad/yealink_t48s.template # unknown placeholder, line 2
printf '<?xml version="1.0"?>\n<flat-profile>\n<User_ID_1_>{{EXTENSION_NUMBER}}</User_ID_1>\n</flat-profile>\n' >bad/cisco_spa504g.xml
rc=0
Z template check bad >"$WORK/check.out" 2>"$WORK/check.err" || rc=$?
check "check bad: exit 1" test "$rc" = 1
check "check bad: three problem lines" test "$(wc -l <"$WORK/check.out")" = 3
check "check bad: unclosed section at file:line" grep -q "^bad/yealink_t46s.cfg:2: unclosed section codecs" "$WORK/check.out"
check "check bad: unknown placeholder at file:line" grep -q "^bad/yealink_t48s.template:2: unknown placeholder {{EXTENSION_NAM}}" "$WORK/check.out"
check "check bad: XML mismatch at file:line" grep -q "^bad/cisco_spa504g.xml:3: XML not well-formed" "$WORK/check.out"

# a shared (common) file may not use a phone's variables
mkdir -p common
printf '#!version:1.0.0.1\nx = {{EXTENSION_NUMBER}}\n' >common/yealink_common.cfg
rc=0
Z template check common >"$WORK/check.out" 2>/dev/null || rc=$?
check "check: phone variable in a common file" grep -q "^common/yealink_common.cfg:2: unknown placeholder {{EXTENSION_NUMBER}} (a shared file" "$WORK/check.out"

# the built-in templates (and an empty custom dir) are clean
rc=0
Z template check >"$WORK/check.out" 2>&1 || rc=$?
check "check built-in: exit 0" test "$rc" = 0
check "check built-in: no output" test ! -s "$WORK/check.out"

finish
