-- Zultys ZIP phones: Yealink OEM hardware and firmware (the web server says "yealink embed
-- httpd", the logs show Yealink's autop), so the file format and keys are Yealink's. What
-- differs from Yealink: the OUI (00:0b:ea, which Yealink OUI detection misses), the common file
-- name (zip37g_common.cfg instead of y0000000000XX.cfg) and a User-Agent without a MAC.
--
-- The ZIP 37G sends a {mac} in its provisioning URL literally and then uses the URL as a
-- directory ("/provision/{mac}.cfg/000bea85bc14.cfg"), so the URL given to a ZIP phone must be
-- a plain directory, and the core matches these names at the end of any path.

local profile = {
  name = "zultys",
  label = "Zultys",
  mac_variable = "$mac",
  oui = { "000bea" },
  detect = {
    -- "Zultys ZIP 37G - 27.71.132.29", the same in HTTP and SIP; no MAC (take it from the path,
    -- or from the "Mac: 00:0b:ea:85:ed:68" header a ZIP 33G REGISTER carries).
    -- Captures: model ("ZIP 37G", matched as zip37g), firmware.
    http_ua = "^Zultys (ZIP %w+) %- ([%d%.]+)",
    sip_ua = "^Zultys (ZIP %w+) %- ([%d%.]+)",
  },
  files = {
    { match = "{mac}.cfg", template = "device" },
    -- zip37g_common.cfg is in the ZIP 37G log; zip33g_common.cfg is inferred from it.
    { match = "{model}_common.cfg", template = "common" },
    -- Yealink V81+ names; the V71/V80 ZIP firmware was not seen asking for them.
    { match = "{mac}.boot", status = 404 },
  },
  models = {
    -- Line counts are not documented for the OEM models: ZIP 33G is taken as a 4-account
    -- phone and ZIP 37G as its T46G base (16 accounts). The templates configure account 1.
    zip33g = { label = "ZIP 33G", lines = 4 },
    zip37g = { label = "ZIP 37G", lines = 16 },
  },
  format = "ini",
  -- Both models list check-sync in Allow-Events; reboot=true follows Yealink's
  -- sip.notify_reboot_enable = 0 semantics, which the templates set.
  reboot = { event = "check-sync;reboot=true", auth = false },

  prepare = function(ctx)
    if ctx.EXTENSION_NUMBER then
      local name = ctx.EXTENSION_NAME or ""
      ctx.LINE_LABEL = name ~= "" and name or ctx.EXTENSION_NUMBER
    end
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
    notes = "A plain directory URL, never with {mac} or $mac in it: the phone sends such a "
      .. "macro literally. The phone fetches zip37g_common.cfg (or zip33g_common.cfg), "
      .. "then <mac>.cfg.",
  }
end

return profile
