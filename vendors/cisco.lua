-- Cisco (Linksys) SPA desk phones.
--
-- A factory SPA fetches /spa$PSN.cfg (spa504G.cfg: the G keeps its case) by TFTP; once its
-- Profile_Rule points at ztpd over HTTP it fetches spa$PSN.cfg there. That "common" file sets
-- Profile_Rule to $MA.xml (lowercase MAC), the per-device <flat-profile>. {model} matches
-- without regard to case, so "spa504G.cfg" is the spa504g model; spa{any}.cfg answers the SPA
-- models ztpd has no entry for with the same bootstrap. A resync NOTIFY ("Event: resync") is
-- challenged with a 401 and honoured only after a digest retry with the line's credentials:
-- auth = true.

local profile = {
  name = "cisco",
  label = "Cisco",
  mac_variable = "$MA",
  -- Cisco owns many OUIs; these are the ones seen on SPA phones: 000e08 (Linksys, the $MA
  -- example of the SPA provisioning guide), 0002fd and 8843e1 (SPA508G / SPA501G User-Agents).
  oui = { "000e08", "0002fd", "8843e1" },
  detect = {
    -- "Cisco/SPA504G-7.5.5 (8843E157DDCC)(CBT141100HR)": model, firmware, MAC (uppercase, in
    -- the first parentheses). The SPA525G sends only its serial ("(CBT141900G7)"), so the third
    -- capture is then a short hex run that is not a MAC; the core ignores a MAC capture that is
    -- not 12 hex digits.
    http_ua = "^Cisco/(SPA%w+)%-(%S+)%s*%(?(%x*)",
    -- SIP: "Cisco/SPA525G2-7.6.1(ES_RC01)", no MAC.
    sip_ua = "^Cisco/(SPA%w+)%-([^%s]+)",
  },
  files = {
    { match = "{mac}.xml", template = "device" },
    -- the original guide's name, kept for phones already pointed at it
    { match = "{mac}.cfg", template = "device" },
    { match = "{model}.cfg", template = "common" },
    { match = "spa{any}.cfg", template = "common" },
  },
  models = {
    -- lines = line keys (VENDORS.md §4.6)
    spa303 = { label = "SPA303", lines = 3 },
    spa504g = { label = "SPA504G", lines = 4 },
    spa525g2 = { label = "SPA525G2", lines = 5 },
  },
  format = "xml",
  template_ext = "xml",
  reboot = { event = "resync", auth = true },

  prepare = function(ctx)
    if ctx.EXTENSION_NUMBER then
      local name = ctx.EXTENSION_NAME or ""
      ctx.LINE_LABEL = name ~= "" and name or ctx.EXTENSION_NUMBER
    end
    -- Time_Zone is one of "GMT-12:00" ... "GMT+13:00".
    local min = ztpd.utc_offset_minutes(ctx.TIMEZONE_OFFSET)
    local a = math.abs(min)
    ctx.CISCO_TIME_ZONE = string.format("GMT%s%02d:%02d", min < 0 and "-" or "+", a // 60, a % 60)
  end,
}

-- Profile fields the loader reads from profile_version 2 on (docs/vendor-profiles.md).
if (ztpd.profile_version or 1) >= 2 then
  profile.provisioning = {
    url = "http://{server}/provision/spa$PSN.cfg",
    notes = "Set Provisioning > Profile Rule to this URL on the admin/advanced web page of the phone. "
      .. "DHCP option 66 alone is not enough: the factory rule /spa$PSN.cfg is fetched by TFTP, "
      .. "which ztpd does not serve.",
  }
end

return profile
