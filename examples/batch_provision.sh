#!/usr/bin/env bash
# Registers several phones through the REST API (the original guide's batch script, with the
# bearer token ztpd requires). usage: TOKEN=... ./batch_provision.sh [http://host:8080]
set -euo pipefail
ZTPD=${1:-http://localhost:8080}
: "${TOKEN:?set TOKEN to an API token (see data/api-token)}"

# MAC,Extension,Vendor,Model
DEVICES=(
  "00:15:65:12:34:56,1001,zultys,zip33g"
  "00:15:65:12:34:57,1002,zultys,zip37g"
  "00:04:f2:ab:cd:ef,1001,yealink,t46s"
  "00:04:f2:12:ab:cd,1002,polycom,vvx450"
)

for device in "${DEVICES[@]}"; do
  IFS=',' read -r mac ext vendor model <<<"$device"
  echo "Registering $mac for extension $ext..."
  curl -sS -X POST "$ZTPD/api/provisioning/devices" \
    -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
    -d "{\"mac_address\":\"$mac\",\"extension_number\":\"$ext\",\"vendor\":\"$vendor\",\"model\":\"$model\"}"
  echo
done
