-- Snom desk phones: a drop-in vendor file, no C behind it.
--
-- Snom names per-device files with the UPPERCASE MAC. Wazo's layout, followed here: the phone's
-- setting server is snom<model>-<MAC>.htm, a <setting-files> list ("master") naming
-- <MAC>.xml, the <settings> file ("device"). The per-model snom<model>.htm that Wazo fills with
-- shared files is a 404 here: ztpd has no shared Snom settings. {model} matches without regard
-- to case ("snomD785.htm" is the d785 model).

local profile = {
  name = "snom",
  label = "Snom",
  -- the macro Snom expands in setting_server [unverified: not in VENDORS.md]
  mac_variable = "{mac}",
  oui = { "000413" },
  detect = {
    -- "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24
    -- SXM:0 UXM:0)": model, firmware, then after one build word the MAC (uppercase).
    -- Older firmware has no MAC ("snom320-SIP 8.4.18 1.1.3-s)"): the capture is then empty.
    http_ua = "snom(%w+)%-SIP ([%d%.]+) %S+ ?(%x*)",
    -- SIP: "snomD785/10.1.33.33" [unverified: not in VENDORS.md].
    sip_ua = "^snom(%w+)/([%d%.]+)",
  },
  files = {
    { match = "{MAC}.xml", template = "device" },
    { match = "snom{model}-{MAC}.htm", template = "master" },
    { match = "snom{model}.htm", status = 404 },
    -- lowercase forms, for a setting server written with a lowercase MAC
    { match = "{mac}.xml", template = "device" },
    { match = "{mac}.cfg", template = "device" },
  },
  models = {
    -- SIP identities from Snom's data sheets (not in VENDORS.md)
    d717 = { label = "D717", lines = 6 },
    d785 = { label = "D785", lines = 12 },
  },
  format = "xml",
  template_ext = "xml",
  -- reboot=true restarts; check-sync;reboot=false only resyncs (Asterisk snom-reboot).
  reboot = { event = "check-sync;reboot=true", auth = false },

  prepare = function(ctx)
    if ctx.EXTENSION_NUMBER then
      local name = ctx.EXTENSION_NAME or ""
      ctx.LINE_LABEL = name ~= "" and name or ctx.EXTENSION_NUMBER
    end
    -- utc_offset is in seconds with a sign ("-18000"), as Wazo writes it.
    local sec = ztpd.utc_offset_minutes(ctx.TIMEZONE_OFFSET) * 60
    ctx.SNOM_UTC_OFFSET = string.format("%+d", sec)
  end,
}

-- Profile fields the loader reads from profile_version 2 on (docs/vendor-profiles.md).
if (ztpd.profile_version or 1) >= 2 then
  profile.provisioning = {
    url = "http://{server}/provision/snom{model}-{mac}.htm",
    dhcp_option_66 = "http://{server}/provision/snom{model}-{mac}.htm",
    notes = "Setting server (Advanced > Update) or DHCP option 66; {model} and {mac} are macros "
      .. "that the phone expands itself (uppercase MAC) [unverified]. "
      .. "http://{server}/provision/{mac}.xml works too.",
  }
end

return profile
