-- Shared by the case scripts (loaded with dofile). Each case sets `expect`, a
-- Lua pattern that a good response body matches: a 200 whose body does not
-- (e.g. {"active": false}) is an error too, not only what wrk calls one.
-- Arguments after `--` are key=value pairs, read into `args`.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

bad = 0          -- per thread: non-200 or unexpected body
args = {}
local threads = {}

function parse_args(argv)
  for _, a in ipairs(argv) do
    local k, v = a:match("^([^=]+)=(.*)$")
    args[k] = v
  end
end

function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

function form(t)
  local parts = {}
  for _, kv in ipairs(t) do parts[#parts + 1] = kv[1] .. "=" .. urlencode(kv[2]) end
  return table.concat(parts, "&")
end

function client_auth(t, id)
  t[#t + 1] = {"client_id", id or args.client_id}
  t[#t + 1] = {"client_secret", args.client_secret}
  return t
end

function setup(thread)
  thread:set("thread_index", #threads)
  threads[#threads + 1] = thread
end

function check(status, body)
  if status ~= 200 or not body:find(expect) then bad = bad + 1; return false end
  return true
end

function response(status, headers, body) check(status, body) end

function done(summary, latency, requests)
  local nbad = 0
  for _, t in ipairs(threads) do nbad = nbad + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests":%d,"duration_us":%d,"rps":%.3f,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
    .. '"max_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,"bad":%d}}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, e.status, nbad))
end
