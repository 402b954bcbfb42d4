-- The `crypto` module (require("crypto")): randomness, AEAD encryption, HMAC, PBKDF2,
-- JWT and a constant-time compare. Registered lazily by
-- beamish.luabridge._modules.install_modules and run privileged on its first require,
-- with (core, callbacks); returns the module. Documented in beamish.luabridge._lib_crypto.
-- Host code (beamish's own, not a script): compiled once per Python process.

local core, H = ...
local sync = core.sync
local MAX_PAYLOAD = core.MAX_PAYLOAD
local type, floor = type, math.floor

local MAX_RANDOM = 1048576
local NONCE = 12

local function err(kind, msg)
  return errors.new{kind = errors[kind] or errors.INTERNAL, message = msg, retryable = false}
end
local function invalid(msg) return nil, err("INVALID", msg) end
-- A Python helper's value, or its (nil, kind, message) as nil, err.
local function result(v, kind, msg)
  if v == nil then return nil, err(kind, msg) end
  return v, nil
end

local function is_int(n) return type(n) == "number" and n == floor(n) and n == n end
local function check_length(n)
  if not is_int(n) then return "length must be an integer" end
  if n <= 0 then return "length must be a positive integer" end
  if n > MAX_RANDOM then return "length exceeds maximum allowed size (1MB)" end
end
local function check_strings(names, ...)
  for i = 1, #names do
    local v = select(i, ...)
    if type(v) ~= "string" then return names[i] .. " must be a string" end
    if #v > MAX_PAYLOAD then
      return names[i] .. " too large: " .. #v .. " bytes, more than the host's "
        .. "limits.max_payload (" .. MAX_PAYLOAD .. ")"
    end
  end
end

local crypto = {}

-- random -----------------------------------------------------------------------------
local random = {}
function random.bytes(n)
  local bad = check_length(n)
  if bad then return invalid(bad) end
  return sync("crypto_random", floor(n)), nil
end
function random.string(n, charset)
  local bad = check_length(n)
  if bad then return invalid(bad) end
  if type(charset) == "string" then
    if charset == "" then return invalid("charset cannot be empty") end
    if #charset > MAX_PAYLOAD then return invalid("charset too large") end
  elseif charset ~= nil then
    return invalid("charset must be a string")
  end
  return sync("crypto_random_string", floor(n), charset), nil
end
function random.uuid() return sync("uuid4"), nil end
crypto.random = random

-- hmac -------------------------------------------------------------------------------
local KEY_DATA = {"key", "data"}
local function hmac(name)
  return function(key, data)
    local bad = check_strings(KEY_DATA, key, data)
    if bad then return invalid(bad) end
    return result(H.hmac(name, key, data))
  end
end
crypto.hmac = {sha256 = hmac("sha256"), sha512 = hmac("sha512")}

-- encrypt / decrypt ------------------------------------------------------------------
local DATA_KEY = {"data", "key"}
local function aead_args(data, key, aad)
  local bad = check_strings(DATA_KEY, data, key)
  if bad then return bad end
  if aad ~= nil and type(aad) ~= "string" then return "aad must be a string" end
  if aad ~= nil and #aad > MAX_PAYLOAD then return "aad too large" end
end
local function key_ok(alg, key)
  local n = #key
  if alg == "aes" then return n == 16 or n == 24 or n == 32 end
  return n == 32
end
local function key_error(alg)
  return invalid(alg == "aes" and "key must be 16, 24, or 32 bytes" or "key must be 32 bytes")
end
local function encrypt(alg)
  return function(data, key, aad)
    local bad = aead_args(data, key, aad)
    if bad then return invalid(bad) end
    if not key_ok(alg, key) then return key_error(alg) end
    local nonce = sync("crypto_random", NONCE)
    return result(H.seal(alg, data, key, aad, nonce))
  end
end
local function decrypt(alg)
  return function(data, key, aad)
    local bad = aead_args(data, key, aad)
    if bad then return invalid(bad) end
    if not key_ok(alg, key) then return key_error(alg) end
    return result(H.open(alg, data, key, aad))
  end
end
crypto.encrypt = {aes = encrypt("aes"), chacha20 = encrypt("chacha20")}
crypto.decrypt = {aes = decrypt("aes"), chacha20 = decrypt("chacha20")}

-- jwt --------------------------------------------------------------------------------
local jwt = {}
function jwt.encode(payload, key, alg)
  if type(payload) ~= "table" then return invalid("payload must be a table") end
  if type(key) ~= "string" then return invalid("key must be a string") end
  if alg ~= nil and type(alg) ~= "string" then return invalid("alg must be a string") end
  return result(H.jwt_encode(payload, key, alg or "HS256"))
end
function jwt.verify(token, key, alg, require_exp)
  local bad = check_strings({"token", "key"}, token, key)
  if bad then return invalid(bad) end
  if alg ~= nil and type(alg) ~= "string" then return invalid("alg must be a string") end
  if require_exp ~= nil and type(require_exp) ~= "boolean" then
    return invalid("require_exp must be a boolean")
  end
  local now = sync("crypto_now")
  return result(H.jwt_verify(token, key, alg or "HS256", require_exp ~= false, now))
end
crypto.jwt = jwt

-- pbkdf2, constant_time_compare -----------------------------------------------------
function crypto.pbkdf2(password, salt, iterations, key_length, hash)
  local bad = check_strings({"password", "salt"}, password, salt)
  if bad then return invalid(bad) end
  if not is_int(iterations) then return invalid("iterations must be an integer") end
  if not is_int(key_length) then return invalid("key length must be an integer") end
  if hash ~= nil and type(hash) ~= "string" then return invalid("hash must be a string") end
  -- out-of-range numbers are refused before they cross (Python checks the bounds)
  if iterations > 1e15 then iterations = 1e15 elseif iterations < -1 then iterations = -1 end
  if key_length > 1e15 then key_length = 1e15 elseif key_length < -1 then key_length = -1 end
  return result(H.pbkdf2(password, salt, floor(iterations), floor(key_length),
    hash or "sha256"))
end

function crypto.constant_time_compare(a, b)
  if type(a) ~= "string" or type(b) ~= "string" then return false end
  return H.compare(a, b) == true
end

return crypto
