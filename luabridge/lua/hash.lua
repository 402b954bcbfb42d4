-- The `hash` module (require("hash")): digests, HMACs and FNV hashes of strings.
-- Registered lazily by beamish.luabridge._modules.install_modules and run privileged on
-- its first require, with (callbacks); returns the module. Documented in
-- beamish.luabridge._lib_hash.
-- Host code (beamish's own, not a script): compiled once per Python process.

local H = ...
local type = type

local function invalid(msg)
  return errors.new{kind = errors.INVALID, message = msg, retryable = false}
end

local hash = {}
local function digest(name)
  return function(data, raw)
    if type(data) ~= "string" then return nil, invalid("data must be a string") end
    return H.digest(name, data, raw == true), nil
  end
end
local function hmac(name)
  return function(data, secret, raw)
    if type(data) ~= "string" then return nil, invalid("data must be a string") end
    if type(secret) ~= "string" then return nil, invalid("secret must be a string") end
    return H.hmac(name, data, secret, raw == true), nil
  end
end
local MAX_FNV = 1048576  -- FNV runs byte by byte in Python: bounded to keep a step short
local function fnv(bits)
  return function(data)
    if type(data) ~= "string" then return nil, invalid("data must be a string") end
    if #data > MAX_FNV then
      return nil, invalid("data too large for fnv" .. bits .. ": " .. #data
        .. " bytes, at most " .. MAX_FNV)
    end
    return H.fnv(bits, data), nil
  end
end
for _, name in ipairs({"md5", "sha1", "sha256", "sha512"}) do
  hash[name] = digest(name)
  hash["hmac_" .. name] = hmac(name)
end
hash.fnv32 = fnv(32)
hash.fnv64 = fnv(64)

return hash
