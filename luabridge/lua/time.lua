-- The `time` module (require("time")): clocks, sleeps, timers, Go times and durations.
-- Registered lazily by beamish.luabridge._modules.install_modules and run privileged on
-- its first require, with (core, callbacks, constants, host); returns the module.
-- Documented in beamish.luabridge._lib_time.
-- Host code (beamish's own, not a script): compiled once per Python process.

local core, H, consts, host = ...
local command = core.command
local real = host.real
-- shared constants like time.utc reach scripts as read-only proxies
local function unproxy(v) return (type(v) == "table" and real(v)) or v end
local sync = core.sync
local type, error, tostring = type, error, tostring
local setmetatable, getmetatable = setmetatable, getmetatable
local math_type, floor, tointeger = math.type, math.floor, math.tointeger
local SECOND = 1000000000
local ZERO_SEC = consts.ZERO_SEC

local time = {}
for k, v in pairs(consts.values) do time[k] = v end

local function invalid(msg)
  return errors.new{kind = errors.INVALID, message = msg, retryable = false}
end

-- Duration -----------------------------------------------------------------------------
local D = {}
local D_MT = {__index = D, __metatable = "duration"}
local function new_dur(ns) return setmetatable({ns = ns}, D_MT) end
local function is_dur(v) return type(v) == "table" and getmetatable(v) == "duration" end

local function to_ns(d)
  local t = type(d)
  if t == "number" then
    local i = tointeger(d)
    if i then return i end
    if d ~= d or d == math.huge or d == -math.huge then
      return nil, invalid("duration must be finite")
    end
    return floor(d)
  elseif t == "string" then
    local ns, err = H.parse_duration(d)
    if ns == nil then return nil, invalid(err) end
    return ns
  elseif is_dur(d) then
    return d.ns
  end
  return nil, invalid("invalid duration: expected a Duration, nanoseconds or a string "
    .. "like '1h30m', got " .. t)
end
time._to_ns = to_ns

function D.hours(d) return d.ns / 3600e9 end
function D.minutes(d) return d.ns / 60e9 end
function D.seconds(d) return d.ns / 1e9 end
function D.milliseconds(d) return d.ns // 1000000 end
function D.microseconds(d) return d.ns // 1000 end
function D.nanoseconds(d) return d.ns end
function D.string(d) return H.format_duration(d.ns) end
function D.abs(d) return new_dur(d.ns < 0 and -d.ns or d.ns) end
D_MT.__tostring = D.string
D_MT.__eq = function(a, b) return is_dur(a) and is_dur(b) and a.ns == b.ns end
D_MT.__lt = function(a, b) return assert(to_ns(a)) < assert(to_ns(b)) end
D_MT.__le = function(a, b) return assert(to_ns(a)) <= assert(to_ns(b)) end
D_MT.__add = function(a, b) return new_dur(assert(to_ns(a)) + assert(to_ns(b))) end
D_MT.__sub = function(a, b) return new_dur(assert(to_ns(a)) - assert(to_ns(b))) end
D_MT.__unm = function(a) return new_dur(-a.ns) end

function time.parse_duration(x)
  local ns, err = to_ns(x)
  if ns == nil then return nil, err end
  return new_dur(ns), nil
end

-- Location -----------------------------------------------------------------------------
local L = {}
local L_MT = {__index = L, __metatable = "location"}
local function new_loc(name, fo) return setmetatable({name = name, fo = fo}, L_MT) end
function L.string(l) return l.name end
L_MT.__tostring = L.string
time.utc = new_loc("UTC")
time.localtz = new_loc("Local")
function time.load_location(name)
  if type(name) ~= "string" then return nil, invalid("location name must be a string") end
  if name == "" then return nil, invalid("location name must not be empty") end
  local canon, err = H.load_location(name)
  if canon == nil then
    return nil, errors.new{kind = errors.NOT_FOUND, message = err, retryable = false}
  end
  return new_loc(canon), nil
end
function time.fixed_zone(name, offset)
  if type(name) ~= "string" or math_type(offset) ~= "integer" then
    error("bad arguments to 'fixed_zone' (name, offset seconds expected)", 2)
  end
  return new_loc(name, offset)
end

-- Time ---------------------------------------------------------------------------------
local T = {}
local T_MT = {__index = T, __metatable = "time"}
local function new_time(s, n, loc, fo)
  return setmetatable({s = s, n = n, loc = loc or "UTC", fo = fo}, T_MT)
end
local function is_time(v) return type(v) == "table" and getmetatable(v) == "time" end
time._new_time = new_time

local function norm(s, n)  -- carry nanoseconds into seconds
  return s + n // SECOND, n % SECOND
end
local function check_time(t, fname)
  if not is_time(t) then error("bad argument to '" .. fname .. "' (Time expected)", 3) end
  return t
end

function T.add(t, d)
  local ns, err = to_ns(d)
  if ns == nil then error(err, 2) end
  local s, n = norm(t.s, t.n + ns)
  return new_time(s, n, t.loc, t.fo)
end
function T.sub(t, u)
  check_time(u, "sub")
  return new_dur((t.s - u.s) * SECOND + (t.n - u.n))
end
function T.add_date(t, y, m, d)
  local s, n = H.add_date(t.s, t.n, t.loc, t.fo, y or 0, m or 0, d or 0)
  return new_time(s, n, t.loc, t.fo)
end
function T.compare(t, u)
  check_time(u, "compare")
  if t.s ~= u.s then return t.s < u.s and -1 or 1 end
  if t.n ~= u.n then return t.n < u.n and -1 or 1 end
  return 0
end
function T.before(t, u) return T.compare(t, u) < 0 end
function T.after(t, u) return T.compare(t, u) > 0 end
function T.equal(t, u) return T.compare(t, u) == 0 end
function T.format(t, layout)
  if type(layout) ~= "string" then
    error("bad argument #1 to 'format' (layout string expected)", 2)
  end
  return H.format(t.s, t.n, t.loc, t.fo, layout)
end
function T.format_rfc3339(t) return H.format(t.s, t.n, t.loc, t.fo, time.RFC3339) end
local GO_STRING = "2006-01-02 15:04:05.999999999 -0700 MST"
function T.string(t) return H.format(t.s, t.n, t.loc, t.fo, GO_STRING) end
function T.unix(t) return t.s end
function T.unix_milli(t) return t.s * 1000 + t.n // 1000000 end
function T.unix_micro(t) return t.s * 1000000 + t.n // 1000 end
function T.unix_nano(t) return t.s * SECOND + t.n end
local function F(t) return H.fields(t.s, t.n, t.loc, t.fo) end
function T.date(t) local y, m, d = F(t) return y, m, d end
function T.clock(t) local _, _, _, h, mi, s = F(t) return h, mi, s end
function T.year(t) return (F(t)) end
function T.month(t) return (select(2, F(t))) end
function T.day(t) return (select(3, F(t))) end
function T.hour(t) return (select(4, F(t))) end
function T.minute(t) return (select(5, F(t))) end
function T.second(t) return (select(6, F(t))) end
function T.nanosecond(t) return t.n end
function T.weekday(t) return (select(8, F(t))) end
function T.year_day(t) return (select(9, F(t))) end
function T.is_zero(t) return t.s == ZERO_SEC and t.n == 0 end
function T.utc(t) return new_time(t.s, t.n, "UTC") end
function T.in_local(t) return new_time(t.s, t.n, "Local") end
function T.in_location(t, loc)
  loc = unproxy(loc)
  if type(loc) ~= "table" or getmetatable(loc) ~= "location" then
    error("bad argument #1 to 'in_location' (location expected)", 2)
  end
  return new_time(t.s, t.n, loc.name, loc.fo)
end
function T.location(t) return new_loc(t.loc, t.fo) end
function T.truncate(t, d)
  local ns, err = to_ns(d)
  if ns == nil then error(err, 2) end
  local s, n = H.truncate(t.s, t.n, ns)
  return new_time(s, n, t.loc, t.fo)
end
function T.round(t, d)
  local ns, err = to_ns(d)
  if ns == nil then error(err, 2) end
  local s, n = H.round(t.s, t.n, ns)
  return new_time(s, n, t.loc, t.fo)
end
T_MT.__tostring = T.string
T_MT.__eq = function(a, b) return is_time(a) and is_time(b) and a.s == b.s and a.n == b.n end
T_MT.__lt = function(a, b) return T.compare(a, b) < 0 end
T_MT.__le = function(a, b) return T.compare(a, b) <= 0 end

function time.unix(sec, nsec)
  if math_type(sec) ~= "integer" then sec = floor(sec or 0) end
  local s, n = norm(sec, tointeger(nsec or 0) or floor(nsec))
  return new_time(s, n, "UTC")
end
function time.date(y, mo, d, h, mi, s, ns, loc)
  local lname, fo = "UTC", nil
  loc = unproxy(loc)
  if loc ~= nil then
    if type(loc) ~= "table" or getmetatable(loc) ~= "location" then
      error("bad argument #8 to 'date' (location expected)", 2)
    end
    lname, fo = loc.name, loc.fo
  end
  local sec, nsec = H.date(y, mo, d, h or 0, mi or 0, s or 0, ns or 0, lname, fo)
  return new_time(sec, nsec, lname, fo)
end
function time.parse(layout, value, loc)
  if type(layout) ~= "string" or type(value) ~= "string" then
    return nil, invalid("time.parse expects a layout and a string")
  end
  local lname, lfo = "UTC", nil
  loc = unproxy(loc)
  if loc ~= nil then lname, lfo = loc.name, loc.fo end
  local s, n, name, fo = H.parse(layout, value, lname, lfo)
  if s == nil then return nil, invalid(n) end
  return new_time(s, n, name, fo), nil
end

-- the clock and the waits (through the driver) ------------------------------------------
function time.now()
  local s, n = sync("now")
  return new_time(s, n, "UTC")
end
function time.sleep(d)
  local ns, err = to_ns(d)
  if ns == nil then error(err, 2) end
  return command("sleep", ns)
end
function time.after(d)
  local ns, err = to_ns(d)
  if ns == nil then error(err, 2) end
  return sync("after", ns)
end

-- A timer's host handle lives in a weak table, never in the object a script holds.
local TIMER_H = setmetatable({}, {__mode = "k"})
local function timer_h(t, fname)
  local h = (type(t) == "table") and TIMER_H[t] or nil
  if h == nil then error("bad argument to '" .. fname .. "' (timer expected)", 3) end
  return h
end
local function new_timer(h, ch, mt)
  local t = setmetatable({ch = ch}, mt)
  TIMER_H[t] = h
  return t
end

local TM = {}
local TM_MT = {__index = TM, __metatable = "timer"}
function TM.channel(t) return t.ch end
TM.response = TM.channel
function TM.stop(t) return sync("timer_stop", timer_h(t, "stop")) end
function TM.reset(t, d)
  local h = timer_h(t, "reset")
  local ns, err = to_ns(d)
  if ns == nil then error(err, 2) end
  return sync("timer_reset", h, ns)
end
function time.timer(d)
  local ns, err = to_ns(d)
  if ns == nil then return nil, err end
  if ns < 0 then return nil, invalid("timer duration must not be negative") end
  local h, ch = sync("timer", ns, false)
  if h == nil then return nil, ch end  -- limits.timers reached: ch is the error
  return new_timer(h, ch, TM_MT), nil
end
local TK = {}
local TK_MT = {__index = TK, __metatable = "ticker"}
function TK.channel(t) return t.ch end
TK.response = TK.channel
function TK.stop(t) return sync("timer_stop", timer_h(t, "stop")) end
function time.ticker(d)
  local ns, err = to_ns(d)
  if ns == nil then return nil, err end
  if ns <= 0 then return nil, invalid("non-positive interval for ticker") end
  local h, ch = sync("timer", ns, true)
  if h == nil then return nil, ch end  -- limits.timers reached: ch is the error
  return new_timer(h, ch, TK_MT), nil
end

-- crossing to Python: a Time becomes a datetime, a Duration its nanoseconds
host.EXPORT[T_MT] = function(t) return "T", {t.s, t.n} end
host.EXPORT[D_MT] = function(d) return "D", d.ns end
return time
