-- wrk script for benchmarks/loadgen.py: v2 key requests over a fixed set of keys.
--
-- One wrk process loads one member with one thread and N connections; each request takes
-- the next of the process's N keys in turn, so every key sees 1/N of the load (wrk has no
-- per-connection hook, and a thread per connection would double wrk's CPU per request).
-- Settings come from the environment:
--   BENCH_METHOD     GET or PUT
--   BENCH_PREFIX     key path before the key number, e.g. /v2/keys/bench/k
--   BENCH_FIRST_KEY  number of this process's first key
--   BENCH_KEYS       how many keys (the process's connection count)
--   BENCH_QUERY      appended to the path, e.g. ?quorum=true (may be empty)
--   BENCH_VALUE      the value a PUT writes (form-encoded as value=...)
-- done() prints one line "BENCH-RESULT k=v ..." with the totals and a grid of latency
-- percentiles (microseconds) that loadgen.py parses and merges across processes.

local requests = {}
local count = 0
local next_key = 0

function init(args)
   local method = os.getenv("BENCH_METHOD") or "GET"
   local prefix = os.getenv("BENCH_PREFIX") or "/v2/keys/bench/k"
   local first = tonumber(os.getenv("BENCH_FIRST_KEY") or "0")
   local query = os.getenv("BENCH_QUERY") or ""
   local body = nil
   local headers = {}
   if method == "PUT" then
      body = "value=" .. (os.getenv("BENCH_VALUE") or "")
      headers["Content-Type"] = "application/x-www-form-urlencoded"
   end
   count = tonumber(os.getenv("BENCH_KEYS") or "1")
   -- Built once: the per-request work is a table lookup.
   for i = 0, count - 1 do
      requests[i] = wrk.format(method, prefix .. (first + i) .. query, headers, body)
   end
end

function request()
   local r = requests[next_key]
   next_key = (next_key + 1) % count
   return r
end

-- Percentile grid: every 1% to 98%, every 0.1% to 99.9%, then 99.95 and 99.99; wrk
-- scans its histogram per call, so the grid stays small.
local function grid()
   local ps = {}
   for p = 1, 98 do ps[#ps + 1] = p end
   for t = 981, 999 do ps[#ps + 1] = t / 10 end
   ps[#ps + 1] = 99.95
   ps[#ps + 1] = 99.99
   return ps
end

function done(summary, latency, requests_stats)
   local e = summary.errors
   local points = {}
   for _, p in ipairs(grid()) do
      points[#points + 1] = string.format("%g:%d", p, latency:percentile(p))
   end
   io.write(string.format(
      "BENCH-RESULT requests=%d duration_us=%d bytes=%d err_connect=%d err_read=%d "
         .. "err_write=%d err_status=%d err_timeout=%d lat_min=%d lat_mean=%.1f lat_max=%d "
         .. "lat_grid=%s\n",
      summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
      e.status, e.timeout, latency.min, latency.mean, latency.max, table.concat(points, ",")))
end
