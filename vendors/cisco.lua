-- Cisco (Linksys) SPA desk phones.
--
-- A factory SPA fetches /spa$PSN.cfg (spa504G.cfg: the G keeps its case) by TFTP; once its
-- Profile_Rule points at ztpd over HTTP it fetches $MA.cfg (lowercase MAC). The "common" file
-- served for spa*.cfg sets that Profile_Rule. A resync NOTIFY ("Event: resync") is challenged
-- with a 401 and honoured only after a digest retry with the line's credentials: auth = true.

return {
  name = "cisco",
  label = "Cisco",
  mac_variable = "$MA",
  -- Cisco owns many OUIs; these are the ones seen on SPA phones: 000e08 (Linksys, the $MA
  -- example of the SPA provisioning guide), 0002fd and 8843e1 (SPA508G / SPA501G User-Agents).
  oui = { "000e08", "0002fd", "8843e1" },
  detect = {
    -- "Cisco/SPA504G-7.5.5 (8843E157DDCC)(CBT141100HR)"; the SPA525G sends no MAC, so the MAC
    -- is not captured here (take it from the path). Captures: model, firmware.
    http_ua = "^Cisco/(SPA%w+)%-([^%s]+)",
    -- SIP: "Cisco/SPA525G2-7.6.1(ES_RC01)".
    sip_ua = "^Cisco/(SPA%w+)%-([^%s]+)",
  },
  files = {
    { match = "{mac}.cfg", template = "device" },
    { match = "{mac}.xml", template = "device" },
    { match = "spa{any}.cfg", template = "common" },
  },
  models = {
    spa504g = { label = "SPA504G", lines = 4 },
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
