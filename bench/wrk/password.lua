-- Password grant, cycling over the provisioned users.
-- args: client_id client_secret password users prefix [scope]
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
expect = '"access_token"'
local bodies, n = {}, 0

function init(argv)
  parse_args(argv)
  for i = 0, tonumber(args.users) - 1 do
    bodies[#bodies + 1] = form(client_auth({
      {"grant_type", "password"}, {"username", args.prefix .. i},
      {"password", args.password}, {"scope", args.scope or "MOBPROC"}}))
  end
end

function request()
  n = n % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[n])
end
