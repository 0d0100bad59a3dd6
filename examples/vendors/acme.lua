-- A worked example of a drop-in vendor file (docs/vendor-profiles.md walks through it).
--
-- "Acme" is a made-up vendor whose phones behave like most real ones: the provisioning URL is
-- a directory, the phone first asks for a per-model common file (acme-x100.cfg), then for
-- <mac>.cfg, and probes <mac>.boot, which must be a 404. To use it: copy this file into the
-- directory set by provisioning.vendors_dir, copy acme_x100.cfg and acme_x200.cfg into the
-- custom templates directory, and reload ztpd (SIGHUP).

local profile = {
  name = "acme",
  label = "Acme Telecom",
  mac_variable = "$mac",
  oui = { "00a0b0" },
  detect = {
    -- HTTP: "Acme X100 1.2.3 00a0b0123456" -> model, firmware, MAC
    http_ua = "^Acme (X%d+) ([%d%.]+) (%x+)$",
    -- SIP: "Acme X100 1.2.3" -> model, firmware (no MAC)
    sip_ua = "^Acme (X%d+) ([%d%.]+)",
  },
  files = {
    -- first match wins: the per-phone file before the patterns that could also match it
    { match = "{mac}.cfg", template = "device" },
    { match = "acme-{model}.cfg", status = 404 },
    { match = "{mac}.boot", status = 404 },
  },
  models = {
    x100 = { label = "X100", lines = 2 },
    x200 = { label = "X200", lines = 8 },
  },
  format = "ini",
  reboot = { event = "check-sync", auth = false },

  -- Computes the variables the templates use beyond the core's own.
  prepare = function(ctx)
    ctx.ACME_TZ_MINUTES = ztpd.utc_offset_minutes(ctx.TIMEZONE_OFFSET)
    if ctx.EXTENSION_NUMBER then
      local name = ctx.EXTENSION_NAME or ""
      ctx.LINE_LABEL = name ~= "" and name or ctx.EXTENSION_NUMBER
    end
  end,
}

-- Fields a newer loader reads (profile_version 2); an older one never sees them.
if (ztpd.profile_version or 1) >= 2 then
  profile.provisioning = {
    url = "http://{server}/provision/",
    dhcp_option_66 = "http://{server}/provision/",
    notes = "Menu > Provisioning > Server: the directory URL; the phone adds the file names.",
  }
  table.insert(profile.files, { match = "{mac}-crash.log", upload = true })
end

return profile
