-- The authorization-code flow without the browser (issue 20): a browser already signed in
-- (its session cookie) asks the authorization endpoint for a code (302 to the redirect URI),
-- and the client redeems it with its PKCE verifier at the token endpoint. Each thread keeps the
-- codes its answers carried and spends each once; a flow is two requests.
-- args: client_id cookie redirect_uri challenge verifier
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "common.lua")
local codes, head, tail = {}, 1, 0
local authorize, redeem_prefix

function init(argv)
  parse_args(argv)
  authorize = "/as/authorization.oauth2?" .. form({
    {"response_type", "code"}, {"client_id", args.client_id}, {"redirect_uri", args.redirect_uri},
    {"scope", "MOBPROC"}, {"state", "bench"}, {"code_challenge", args.challenge},
    {"code_challenge_method", "S256"}})
  redeem_prefix = form({{"grant_type", "authorization_code"}, {"client_id", args.client_id},
    {"redirect_uri", args.redirect_uri}, {"code_verifier", args.verifier}}) .. "&code="
end

function request()
  if head <= tail then
    local code = codes[head]
    codes[head] = nil
    head = head + 1
    return wrk.format("POST", "/as/token.oauth2", {["Content-Type"] = "application/x-www-form-urlencoded"},
                      redeem_prefix .. code)
  end
  return wrk.format("GET", authorize, {["Cookie"] = args.cookie}, nil)
end

function response(status, headers, body)
  if status == 302 then
    local code = (headers["Location"] or headers["location"] or ""):match("[?&]code=([A-Za-z0-9]+)")
    if code then tail = tail + 1; codes[tail] = code; return end
  elseif status == 200 and body:find('"access_token"') then
    return
  end
  bad = bad + 1
end
