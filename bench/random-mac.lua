-- wrk script: each request GETs the config of a random one of the $BENCH_DEVICES (default
-- 10,000) benchmark phones 001565123456, 001565123457, ... under the prefix in $BENCH_PREFIX
-- (default "/provision/").
-- Requests are pre-formatted once per thread so the per-request Lua cost is one lookup.
local N = tonumber(os.getenv("BENCH_DEVICES") or "10000")
local reqs = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  local prefix = os.getenv("BENCH_PREFIX") or "/provision/"
  math.randomseed(os.time() + (tid or 0) * 7919)
  for i = 0, N - 1 do
    reqs[i + 1] = wrk.format("GET", string.format("%s001565%06x.cfg", prefix, 0x123456 + i))
  end
end

function request()
  return reqs[math.random(N)]
end

-- One parseable summary line, read by bench/http.sh.
function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
