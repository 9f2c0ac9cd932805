-- wrk script of bench/load.py: each wrk thread is one client with its own signed-in
-- session (LOAD_COOKIES: "cookie|cookie|...", one per thread), GETs one path, and
-- counts every answer that is not a 200 (wrk itself counts only >= 400). done() prints
-- one JSON line with the counts and the latency percentiles (microseconds).

local cookies = {}
for cookie in string.gmatch(os.getenv("LOAD_COOKIES") or "", "[^|]+") do
  table.insert(cookies, cookie)
end
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

function init(args)
  local cookie = cookies[((id - 1) % #cookies) + 1]
  wrk.headers["Cookie"] = cookie
  wrk.headers["Accept-Language"] = "en"
  not_ok = 0
  statuses = {}
end

function response(status, headers, body)
  if status ~= 200 then
    not_ok = not_ok + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

function done(summary, latency, requests)
  local not_ok_total = 0
  local seen = {}
  for _, thread in ipairs(threads) do
    not_ok_total = not_ok_total + thread:get("not_ok")
    for status, count in pairs(thread:get("statuses")) do
      seen[#seen + 1] = string.format('"%d": %d', status, count)
    end
  end
  local errors = summary.errors
  io.write(string.format(
    'LOAD_RESULT {"requests": %d, "duration_us": %d, "not_ok": %d, "statuses": {%s}, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, not_ok_total, table.concat(seen, ", "),
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end
