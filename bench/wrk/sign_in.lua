-- A sign-in on the login page (issue 20): the login form posted with a password, cycling over
-- the provisioned users, each answered with a new session and a code (303 to the redirect
-- URI): the page's cost beside the password grant's (README, Performance). The form's CSRF
-- token is bound to the login transaction, whose cookie every request carries.
-- args: client_id cookie csrf redirect_uri challenge password users prefix
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
local bodies, n = {}, 0

function init(argv)
  parse_args(argv)
  for i = 0, tonumber(args.users) - 1 do
    bodies[#bodies + 1] = form({
      {"response_type", "code"}, {"client_id", args.client_id}, {"redirect_uri", args.redirect_uri},
      {"scope", "MOBPROC"}, {"state", "bench"}, {"code_challenge", args.challenge},
      {"code_challenge_method", "S256"}, {"csrf_token", args.csrf}, {"action", "login"},
      {"username", args.prefix .. i}, {"password", args.password}})
  end
  wrk.path = "/as/authorization.oauth2"
  wrk.headers["Cookie"] = args.cookie
end

function request()
  n = n % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[n])
end

function response(status, headers, body)
  local location = headers["Location"] or headers["location"] or ""
  if status ~= 303 or not location:find("[?&]code=") then bad = bad + 1 end
end
