-- A GET of the MOBPROC v1 API with the documented headers: the bearer token, the tenant and
-- the client application.
-- args: token tenant client_id expect (the path is the URL's)
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")

function init(argv)
  parse_args(argv)
  expect = args.expect
  wrk.method = "GET"
  wrk.body = nil
  wrk.headers["Content-Type"] = nil
  wrk.headers["Authorization"] = "Bearer " .. args.token
  wrk.headers["X-TNGO-TENANT"] = args.tenant
  wrk.headers["client_id"] = args.client_id
end
