-- Yealink desk phones. See docs/vendor-profiles.md for what each field means and
-- docs/vendors.md for what an admin types into the phone.
--
-- Boot order (Yealink admin guides): firmware V81+ asks for <mac>.boot, then y000000000000.boot,
-- and without either falls back to the common y0000000000XX.cfg (XX = model id, the first field
-- of the firmware version) and then <mac>.cfg. Unknown files must be 404, never a catch-all 200,
-- or the phone parses garbage as a boot file. The provisioning URL is a directory: Yealink has
-- no MAC macro, the phone appends the file names itself.

local profile = {
  name = "yealink",
  label = "Yealink",
  mac_variable = "$mac",
  oui = { "001565", "805ec0", "249ad8" },
  detect = {
    -- "Yealink SIP-T46S 66.86.0.15 80:5e:c0:aa:bb:cc", "yealink SIP-T28P 2.70.0.140 00:15:65:..",
    -- "Yealink SIP VP-T49G ..."; T5x models send the MAC without colons. Captures: model,
    -- firmware, MAC (empty when absent).
    http_ua = "^[Yy]ealink SIP[%- ]V?P?%-?(%w+) ([%d%.]+)%s*([%x:]*)",
    -- SIP: "Yealink SIP-T23G 44.80.0.60" (no MAC).
    sip_ua = "^[Yy]ealink SIP[%- ]V?P?%-?(%w+) ([%d%.]+)",
  },
  files = {
    { match = "{mac}.cfg", template = "device" },
    { match = "y0000000000{hex2}.cfg", template = "common" },
    { match = "{mac}.boot", status = 404 },
    { match = "y000000000000.boot", status = 404 },
    { match = "y0000000000{hex2}.boot", status = 404 },
  },
  models = {
    -- lines = SIP accounts, common_id = the XX of y0000000000XX.cfg (VENDORS.md §2.1, §2.6).
    -- Yealink never sold a "T28G": the guide's t28g is kept as the id so existing API scripts
    -- keep working, and it means the T28P (firmware V70-V73, common file y000000000000.cfg).
    t28g = { label = "T28G (T28P family)", lines = 6, common_id = "00" },
    t42s = { label = "T42S", lines = 12, common_id = "67" },
    t46s = { label = "T46S", lines = 16, common_id = "66" },
    t48s = { label = "T48S", lines = 16, common_id = "65" },
    t54w = { label = "T54W", lines = 16, common_id = "96" },
    t57w = { label = "T57W", lines = 16, common_id = "97" },
  },
  format = "ini",
  -- With sip.notify_reboot_enable = 0 (set in the templates) a bare check-sync only resyncs;
  -- reboot=true is what makes the phone restart.
  reboot = { event = "check-sync;reboot=true", auth = false },

  prepare = function(ctx)
    if ctx.EXTENSION_NUMBER then
      local name = ctx.EXTENSION_NAME or ""
      ctx.LINE_LABEL = name ~= "" and name or ctx.EXTENSION_NUMBER
    end
    -- local_time.time_zone takes signed hours ("-5", "+8"); half-hour zones as "+5:30".
    local min = ztpd.utc_offset_minutes(ctx.TIMEZONE_OFFSET)
    local a = math.abs(min)
    local sign = min < 0 and "-" or "+"
    if a % 60 == 0 then
      ctx.YEALINK_TIME_ZONE = sign .. (a // 60)
    else
      ctx.YEALINK_TIME_ZONE = string.format("%s%d:%02d", sign, a // 60, a % 60)
    end
  end,
}

-- Profile fields the loader reads from profile_version 2 on (docs/vendor-profiles.md).
if (ztpd.profile_version or 1) >= 2 then
  profile.provisioning = {
    url = "http://{server}/provision/",
    dhcp_option_66 = "http://{server}/provision/",
    notes = "A directory URL: the phone appends y0000000000XX.cfg and <mac>.cfg itself. "
      .. "Set it under Settings > Auto Provision > Server URL, or in DHCP option 66.",
  }
end

return profile
