-- Grandstream GXP desk phones.
--
-- The phone never asks for <mac>.cfg on its own: it requests cfg<mac> (binary; cfg<mac>.bin on
-- newer firmware), then cfg<mac>.xml, and only when that fails cfg<model>.xml and cfg.xml, all
-- lowercase. Its "Config Server Path" is host/path only (no $mac macro). ztpd serves the XML
-- form; the binary names get an explicit 404 so the phone moves on to the XML file at once.
-- cfg<model>.xml is a common file (NTP and time zone in P-values, which every GXP firmware
-- reads); cfg.xml, with no model to choose a format by, is a 404. <mac>.cfg is kept for the
-- original guide's URL.

local profile = {
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
    { match = "cfg{model}.xml", template = "common" },
    { match = "cfg.xml", status = 404 },
  },
  models = {
    -- GXP16xx read config version 1 (P-values), GXP21xx config version 2 (item names).
    -- lines: SIP accounts; GXP2170 keeps the original guide's "12 lines" (its line keys).
    gxp1620 = { label = "GXP1620", lines = 2 },
    gxp1628 = { label = "GXP1628", lines = 2 },
    gxp2135 = { label = "GXP2135", lines = 4 },
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
    -- dateTime.timezone / P64 take a POSIX TZ string, whose sign is inverted: UTC-5 is "UTC+5".
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

-- Profile fields the loader reads from profile_version 2 on (docs/vendor-profiles.md).
if (ztpd.profile_version or 1) >= 2 then
  profile.provisioning = {
    url = "{server}/provision",
    dhcp_option_66 = "http://{server}/provision",
    notes = "Maintenance > Upgrade and Provisioning: Config Upgrade Via = HTTP, Config Server "
      .. "Path = the url (host[:port]/path, no scheme, no file name); leave the config file "
      .. "prefix and postfix empty.",
  }
end

return profile
