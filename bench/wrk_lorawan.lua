-- wrk script for bench/bench_lorawan.py.
--
-- Arguments after "--":
--   1. mode: "uplink" (a The Things Stack v3 uplink to the webhook) or "post" (one
--      SensorThings Observation to Datastreams(id)/Observations, the baseline)
--   2. uplink: the webhook secret; post: Datastream ids, comma separated
--   3. uplink: the number of devices (DevEUIs 70B3D57E00000000 + n); post: an API key
--      that may write Observations
--   4. the first request's number (runs with different numbers send different uplinks)
--   5. the number of wrk threads (each thread gets its own frame counters)
--
-- Every request is new: thread t sends frame counters t, t + threads, ... round-robin over
-- the devices, so nothing is a duplicate. The run ends with one line "WRK_RESULT {json}".

local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("thread_index", thread_count)
end

local mode, secret, devices, first, stride = "uplink", "", 1, 0, 1
local datastreams = {}
local sent = 0
local headers = {}

function init(args)
   mode = args[1] or "uplink"
   if mode == "uplink" then
      secret = args[2]
      headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. secret }
   else
      for id in string.gmatch(args[2] or "1", "%d+") do
         datastreams[#datastreams + 1] = id
      end
      headers = { ["Content-Type"] = "application/json", ["X-API-Key"] = args[3] or "" }
   end
   devices = tonumber(args[3]) or 1
   first = tonumber(args[4]) or 0
   stride = tonumber(args[5]) or 1
   thread_index = thread_index or 1
end

local function now_iso()
   return os.date("!%Y-%m-%dT%H:%M:%S") .. ".000000000Z"
end

function request()
   local n = first + (thread_index - 1) + sent * stride
   sent = sent + 1
   if mode == "post" then
      local ds = datastreams[(n % #datastreams) + 1]
      local body = string.format('{"result": %d.5, "phenomenonTime": "%s"}', n % 1000, now_iso())
      return wrk.format("POST", "/v1.1/Datastreams(" .. ds .. ")/Observations", headers, body)
   end
   local device = n % devices
   local f_cnt = math.floor(n / devices)
   local body = string.format(
      '{"end_device_ids":{"device_id":"dev-%d","application_ids":{"application_id":"bench"},' ..
      '"dev_eui":"70B3D57E%08X","dev_addr":"260B%04X"},"received_at":"%s",' ..
      '"uplink_message":{"session_key_id":"AXBSH1Pk6Z3nAT6bzBSsm7Y=","f_port":2,"f_cnt":%d,' ..
      '"frm_payload":"DSIE0gB//wE=","decoded_payload":{"distance":%d,"batteryVoltage":3.3},' ..
      '"rx_metadata":[{"gateway_ids":{"gateway_id":"gw-1"},"rssi":-%d,"snr":7.5},' ..
      '{"gateway_ids":{"gateway_id":"gw-2"},"rssi":-101,"snr":2.25}],' ..
      '"settings":{"data_rate":{"lora":{"bandwidth":125000,"spreading_factor":7}},' ..
      '"frequency":"868100000"},"received_at":"%s","consumed_airtime":"0.061696s"}}',
      device, device, device % 65536, now_iso(), f_cnt, 1000 + n % 3000, 60 + n % 50, now_iso())
   return wrk.format("POST", "/api/lorawan/bench/uplink", headers, body)
end

local statuses = {}

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local out = string.format(
      'WRK_RESULT {"requests": %d, "seconds": %.3f, "non2xx": %d, "socket_errors": %d, ' ..
      '"p50_us": %d, "p99_us": %d, "max_us": %d}',
      summary.requests, summary.duration / 1e6, summary.errors.status,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
      latency:percentile(50), latency:percentile(99), latency.max)
   io.write(out .. "\n")
end
