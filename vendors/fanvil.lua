-- Fanvil X-series desk phones: a drop-in vendor file, no C behind it.
--
-- The phone first asks for a per-model common file with an irregular name (f0X4hw1.100.cfg,
-- F0V00X600000.cfg, ...; Wazo's COMMON_FILES table), then for <mac>.cfg (lowercase). ztpd has
-- nothing model-wide to say, so the common names get an explicit 404 and the phone moves on
-- to <mac>.cfg, which holds the whole configuration as <VOIP_CONFIG_FILE> XML (older X-series
-- layout, Wazo base.tpl). The phone expands $mac in its own Config_File_Name.

local profile = {
  name = "fanvil",
  label = "Fanvil",
  mac_variable = "$mac",
  -- seen in the X4 / X5U-V2 / X6U User-Agents of VENDORS.md §7
  oui = { "0c383e" },
  detect = {
    -- "Fanvil X4 2.10.2.6887 0c383e07e16c", "Fanvil X6U Pro 0.0.10 0c383e2cd782".
    -- Captures: model ("X6U Pro" is matched as x6upro), firmware, MAC (lowercase, last).
    http_ua = "^Fanvil (.-) (%d[%d%.]*)%s*(%x*)$",
    -- SIP: assumed to be the same string with or without the MAC [unverified].
    sip_ua = "^Fanvil (.-) (%d[%d%.]*)%s*(%x*)",
  },
  files = {
    { match = "{mac}.cfg", template = "device" },
    { match = "f0{any}.cfg", status = 404 },
    { match = "F0{any}.cfg", status = 404 },
  },
  models = {
    -- Line counts from Fanvil's data sheets (not in VENDORS.md): X4 4 SIP lines, X6 6.
    x4 = { label = "X4", lines = 4 },
    x6 = { label = "X6", lines = 6 },
  },
  format = "xml",
  -- the file is XML but the phone asks for <mac>.cfg
  template_ext = "xml",
  reboot = { event = "check-sync", auth = false },

  prepare = function(ctx)
    if ctx.EXTENSION_NUMBER then
      local name = ctx.EXTENSION_NAME or ""
      ctx.LINE_LABEL = name ~= "" and name or ctx.EXTENSION_NUMBER
    end
    -- Time_Zone counts quarter hours (-20 is UTC-5); Time_Zone_Name is "UTC-05" (Wazo _TZ_INFO).
    local min = ztpd.utc_offset_minutes(ctx.TIMEZONE_OFFSET)
    ctx.FANVIL_TIME_ZONE = min // 15
    local a = math.abs(min)
    if min == 0 then
      ctx.FANVIL_TIME_ZONE_NAME = "UTC"
    elseif a % 60 == 0 then
      ctx.FANVIL_TIME_ZONE_NAME = string.format("UTC%s%02d", min < 0 and "-" or "+", a // 60)
    else
      ctx.FANVIL_TIME_ZONE_NAME =
        string.format("UTC%s%02d:%02d", min < 0 and "-" or "+", a // 60, a % 60)
    end
  end,
}

-- Profile fields the loader reads from profile_version 2 on (docs/vendor-profiles.md).
if (ztpd.profile_version or 1) >= 2 then
  profile.provisioning = {
    url = "http://{server}/provision/",
    dhcp_option_66 = "http://{server}/provision/",
    notes = "Auto Provision: Server URL = the url, or DHCP option 66. The phone appends its "
      .. "model file and <mac>.cfg.",
  }
end

return profile
