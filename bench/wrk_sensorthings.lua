-- wrk script for bench/bench_sensorthings.py.
--
-- Arguments after "--":
--   1. mode: "post" (POST one Observation per request) or "latest" (GET the newest
--      Observation of a Datastream)
--   2. Datastream ids, comma separated; requests go round-robin over them
--   3. post: the phenomenonTime of the first Observation, in Unix milliseconds
--   4. the number of wrk threads (each thread gets its own, disjoint times)
--   5. an API key that may write Observations (sent as X-API-Key)
--
-- When the run ends, one line "WRK_RESULT {json}" carries the counts and latency
-- percentiles (microseconds) for the Python side to read.

local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("thread_index", thread_count)
end

local mode = "latest"
local datastreams = {}
local first_ms = 0
local stride = 1
local sent = 0
local json_headers = { ["Content-Type"] = "application/json" }

function init(args)
   mode = args[1] or "latest"
   for id in string.gmatch(args[2] or "1", "%d+") do
      datastreams[#datastreams + 1] = id
   end
   first_ms = tonumber(args[3]) or 0
   stride = tonumber(args[4]) or 1
   if args[5] and args[5] ~= "" then json_headers["X-API-Key"] = args[5] end
   -- thread_index is set by setup() in this thread's own Lua state
   thread_index = thread_index or 1
end

local function iso_time(ms)
   local seconds = math.floor(ms / 1000)
   return os.date("!%Y-%m-%dT%H:%M:%S", seconds) .. string.format(".%03dZ", ms % 1000)
end

function request()
   sent = sent + 1
   local datastream = datastreams[(sent % #datastreams) + 1]
   local base = "/v1.1/Datastreams(" .. datastream .. ")/Observations"
   if mode == "post" then
      -- one millisecond apart, interleaved between threads: every time is unique
      local ms = first_ms + (sent - 1) * stride + (thread_index - 1)
      local body = string.format('{"result": %d.%d, "phenomenonTime": "%s"}',
                                 10 + sent % 20, sent % 10, iso_time(ms))
      return wrk.format("POST", base, json_headers, body)
   end
   return wrk.format("GET", base .. "?$orderby=phenomenonTime%20desc&$top=1")
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'WRK_RESULT {"requests": %d, "duration_us": %d, "errors_connect": %d, '
         .. '"errors_read": %d, "errors_write": %d, "errors_status": %d, '
         .. '"errors_timeout": %d, "p50_us": %d, "p90_us": %d, "p95_us": %d, '
         .. '"p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(95),
      latency:percentile(99), latency.max, latency.mean))
end
