-- Polycom / Poly VVX (UCS firmware).
--
-- <mac>.cfg is not a settings file for a Polycom phone: it is the per-phone MASTER file, an
-- <APPLICATION CONFIG_FILES="..."/> element naming the files that hold the settings. So
-- <mac>.cfg renders the "master" template (polycom_master.xml), which points the phone at
-- <mac>-ztpd.cfg, the "device" template (polycom_<model>.xml). That one file holds every
-- setting, so no common file is listed (in CONFIG_FILES the FIRST occurrence of a parameter
-- wins, the opposite of Yealink). Without a per-phone master the phone falls back to
-- 000000000000.cfg: an unknown phone gets a 404 there.
-- The phone also PUTs logs and override files (<mac>-app.log, -boot.log, -phone.cfg, -web.cfg,
-- -directory.xml): the upload entries below, read from profile_version 2 on.

local profile = {
  name = "polycom",
  label = "Polycom",
  mac_variable = "[PHONE_MAC_ADDRESS]",
  oui = { "0004f2", "64167f" },
  detect = {
    -- "FileTransport PolycomVVX-VVX_450-UA/5.9.1.0615 Type/Application": no MAC.
    -- Captures: model ("VVX_450", matched as vvx450), firmware.
    http_ua = "^FileTransport Polycom%w+%-([%w_]-)%-UA/([%d%.]+)",
    -- "PolycomVVX-VVX_450-UA/6.4.x"; SIP 3.x wrote "PolycomSoundPointIP SPIP_550 UA 3.3.2.0413".
    sip_ua = "^Polycom%w+[%- ]([%w_]-)[%- ]UA[/ ]([%d%.]+)",
  },
  files = {
    { match = "{mac}.cfg", template = "master" },
    { match = "{mac}-ztpd.cfg", template = "device" },
    { match = "000000000000.cfg", status = 404 },
    -- downloads the Poly FAQ lists that ztpd has no content for
    { match = "000000000000-license.cfg", status = 404 },
    { match = "{mac}-license.cfg", status = 404 },
    { match = "000000000000-directory.xml", status = 404 },
  },
  models = {
    -- lines = line keys (VENDORS.md §3.6)
    vvx250 = { label = "VVX 250", lines = 4 },
    vvx350 = { label = "VVX 350", lines = 6 },
    vvx410 = { label = "VVX 410", lines = 12 },
    vvx450 = { label = "VVX 450", lines = 12 },
  },
  format = "xml",
  template_ext = "xml",
  -- voIpProt.SIP.specialEvent.checkSync.alwaysReboot = 1 in the template: check-sync reboots.
  reboot = { event = "check-sync", auth = false },

  prepare = function(ctx)
    if ctx.EXTENSION_NUMBER then
      local name = ctx.EXTENSION_NAME or ""
      ctx.LINE_LABEL = name ~= "" and name or ctx.EXTENSION_NUMBER
    end
    -- tcpIpApp.sntp.gmtOffset is in seconds.
    ctx.POLYCOM_GMT_OFFSET = ztpd.utc_offset_minutes(ctx.TIMEZONE_OFFSET) * 60
  end,
}

-- Profile fields the loader reads from profile_version 2 on (docs/vendor-profiles.md).
if (ztpd.profile_version or 1) >= 2 then
  profile.provisioning = {
    url = "http://{server}/provision/",
    dhcp_option_66 = "http://{server}/provision/",
    notes = "A directory URL (Settings > Network > Provisioning Server, server type HTTP). "
      .. "The phone fetches <mac>.cfg (the master file), then the <mac>-ztpd.cfg it names, "
      .. "and uploads its logs and overrides there with PUT.",
  }
  -- PUT stores the file for that MAC (size-capped); a GET from the same MAC reads it back.
  local uploads = { "{mac}-app.log", "{mac}-boot.log", "{mac}-phone.cfg", "{mac}-web.cfg",
                    "{mac}-directory.xml" }
  for _, m in ipairs(uploads) do
    table.insert(profile.files, { match = m, upload = true })
  end
end

return profile
