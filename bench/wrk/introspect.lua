-- RFC 7662 introspection of one opaque access token, which must stay active.
-- args: client_id client_secret token
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
expect = '"active"%s*:%s*true'

function init(argv)
  parse_args(argv)
  wrk.body = form(client_auth({{"token", args.token}}))
end
