-- Polycom / Poly VVX (UCS firmware).
--
-- <mac>.cfg is not a settings file for a Polycom phone: it is the per-phone MASTER file, an
-- <APPLICATION CONFIG_FILES="..."/> element naming the files that hold the settings. So
-- <mac>.cfg renders the "master" template (polycom_master.xml), which points the phone at
-- <mac>-ztpd.cfg, the "device" template (polycom_<model>.xml). Without a per-phone master the
-- phone falls back to 000000000000.cfg: an unknown phone gets a 404 there.
-- The phone also PUTs logs and override files (<mac>-app.log, -boot.log, -phone.cfg, -web.cfg,
-- -directory.xml); those belong to the upload area, not to this list.

return {
  name = "polycom",
  label = "Polycom",
  mac_variable = "$mac",
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
  },
  models = {
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
