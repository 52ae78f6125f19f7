-- wrk script for tests/cluster/kit.py load_keys: every request PUTs a new key.
-- LOAD_PREFIX is the key path before the key number (one wrk thread: numbers are unique).
local n = 0
local prefix = os.getenv("LOAD_PREFIX") or "/v2/keys/load/k"
local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}

function request()
   n = n + 1
   return wrk.format("PUT", prefix .. n, headers, "value=" .. n)
end
