-- Client credentials grant: the same request every time.
-- args: client_id client_secret [scope]
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
expect = '"access_token"'

function init(argv)
  parse_args(argv)
  wrk.body = form(client_auth({{"grant_type", "client_credentials"}, {"scope", args.scope or "MOBPROC"}}))
end
