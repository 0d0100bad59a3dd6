-- Grandstream GXP desk phones.
--
-- The phone never asks for <mac>.cfg on its own: it requests cfg<mac> (binary; cfg<mac>.bin on
-- newer firmware), then cfg<mac>.xml, then cfg<model>.xml and cfg.xml, all lowercase. Its
-- "Config Server Path" is host/path only (no $mac macro). ztpd serves the XML form; the binary
-- names get an explicit 404 so the phone moves on to the XML file at once. <mac>.cfg is kept
-- for the original guide's URL.

return {
  name = "grandstream",
  label = "Grandstream",
  mac_variable = "$mac",
  oui = { "000b82", "c074ad" },
  detect = {
    -- "Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b828aa872",
    -- "Grandstream Model HW GXV3350  V1.3A SW 1.0.1.8 DevId c074ad150b88".
    -- Captures: model, firmware, MAC.
    http_ua = "^Grandstream Model HW (%w+)[^S]*SW (%S+) DevId (%x+)",
    -- SIP: "Grandstream GXP2130 1.0.7.25"; the MAC is the tail of +sip.instance instead.
    sip_ua = "^Grandstream (%u+%d+%w*) (%S+)",
  },
  files = {
    { match = "cfg{mac}.xml", template = "device" },
    { match = "{mac}.cfg", template = "device" },
    { match = "cfg{mac}", status = 404 },
    { match = "cfg{mac}.bin", status = 404 },
  },
  models = {
    -- 6 SIP accounts on 12 line keys; "12 lines" is what the original guide lists.
    gxp2170 = { label = "GXP2170", lines = 12 },
  },
  format = "xml",
  template_ext = "xml",
  -- Current firmware takes check-sync (older tables used sys-control).
  reboot = { event = "check-sync", auth = false },

  prepare = function(ctx)
    if ctx.EXTENSION_NUMBER then
      local name = ctx.EXTENSION_NAME or ""
      ctx.LINE_LABEL = name ~= "" and name or ctx.EXTENSION_NUMBER
    end
    -- dateTime.timezone takes a POSIX TZ string, whose sign is inverted: UTC-5 is "UTC+5".
    local min = ztpd.utc_offset_minutes(ctx.TIMEZONE_OFFSET)
    local a = math.abs(min)
    local sign = min > 0 and "-" or "+"
    if a % 60 == 0 then
      ctx.GRANDSTREAM_TIME_ZONE = string.format("UTC%s%d", sign, a // 60)
    else
      ctx.GRANDSTREAM_TIME_ZONE = string.format("UTC%s%d:%02d", sign, a // 60, a % 60)
    end
  end,
}
