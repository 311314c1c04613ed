-- Refresh grant. Refresh tokens rotate, so each request must present a token
-- never used before. The script keeps a pool: it starts with the tokens in
-- args.tokens (a file, one per line, at least one per connection), takes one
-- per request, and puts back the new refresh token of every good response.
-- args: client_id client_secret tokens
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
expect = '"refresh_token"%s*:%s*"([^"]+)"'
local pool, head, tail = {}, 1, 0

function init(argv)
  parse_args(argv)
  -- With several threads, each takes every n-th line so that no two share a token.
  local i, n = 0, tonumber(args.threads or 1)
  for line in io.lines(args.tokens) do
    if line ~= "" and i % n == thread_index then tail = tail + 1; pool[tail] = line end
    i = i + 1
  end
end

function request()
  local token = pool[head] or "pool-exhausted"  -- only after errors: counted as such
  pool[head] = nil
  if head <= tail then head = head + 1 end
  return wrk.format(nil, nil, nil, form(client_auth({
    {"grant_type", "refresh_token"}, {"refresh_token", token}})))
end

function response(status, headers, body)
  local new = status == 200 and body:match(expect)
  if new then tail = tail + 1; pool[tail] = new else bad = bad + 1 end
end
