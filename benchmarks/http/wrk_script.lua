-- The request wrk repeats, and its results as one JSON line (benchmarks/http/loadgen.py reads it).
-- The request comes from the environment, set by the driver: WRK_METHOD, WRK_BODY (optional) and
-- WRK_TOKEN (optional, sent as a bearer token). No response() callback: it would make wrk parse every
-- answer and slow it down; answers above 399 are counted by wrk itself (summary.errors.status).

wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
   wrk.body = body
   wrk.headers["Content-Type"] = "application/json"
end
local token = os.getenv("WRK_TOKEN")
if token and token ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. token
end

function done(summary, latency, requests)
   local errors = summary.errors
   io.write(string.format(
      'BENCHMARK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,'
         .. '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
         .. '"max_us":%d,"mean_us":%.1f}\n',
      summary.requests, summary.duration, summary.bytes, errors.connect, errors.read, errors.write,
      errors.status, errors.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
