-- time module (run as functions).
local assert = require("assert")
local time = require("time")
local T = {}

function T.sleep_and_now()
  local t0 = time.now()
  assert.eq(getmetatable(t0), "time")
  time.sleep("20ms")
  time.sleep(5 * time.MILLISECOND)
  time.sleep(time.parse_duration("1ms"))
  local elapsed = time.now():sub(t0)
  assert.ok(elapsed:milliseconds() >= 20, "slept at least 26ms, got " .. elapsed:string())
  assert.ok(time.now():after(t0))
  assert.raises(function() time.sleep("soon") end, "invalid duration")
  return true
end

function T.after_and_select()
  local fast, slow = time.after("10ms"), time.after("5s")
  local r = channel.select{slow:case_receive(), fast:case_receive()}
  assert.eq(r.channel, fast)
  local again = channel.select{fast:case_receive(), default = true}
  assert.eq(again.default, true, "after fires once; nothing more arrives")
  return true
end

function T.timer_stop_reset()
  local timer, err = time.timer("10ms")
  assert.no_error(err)
  local fired = timer:channel():receive()
  assert.eq(getmetatable(fired), "time")
  assert.eq(timer:stop(), false, "stopping a fired timer returns false")
  local t2 = time.timer("1h")
  assert.eq(t2:stop(), true, "stopping a running timer returns true")
  assert.eq(t2:reset("5ms"), false, "reset of a stopped timer returns false")
  local r = channel.select{t2:response():case_receive(), time.after("2s"):case_receive()}
  assert.eq(r.channel, t2:channel(), "a reset timer fires again")
  local _, terr = time.timer("bogus")
  assert.is_error(terr, errors.INVALID)
  return true
end

function T.ticker()
  local tk, err = time.ticker("5ms")
  assert.no_error(err)
  local ch = tk:channel()
  local last
  for i = 1, 3 do
    local t = ch:receive()
    if last then assert.ok(not t:before(last), "ticks move forward") end
    last = t
  end
  assert.eq(tk:stop(), true)
  local _, e = time.ticker(0)
  assert.is_error(e, errors.INVALID)
  return true
end

function T.durations()
  local d, err = time.parse_duration("1h30m")
  assert.no_error(err)
  assert.eq(d:hours(), 1.5)
  assert.eq(d:minutes(), 90.0)
  assert.eq(d:seconds(), 5400.0)
  assert.eq(d:milliseconds(), 5400000)
  assert.eq(d:nanoseconds(), 90 * time.MINUTE)
  assert.eq(d:string(), "1h30m0s")
  assert.eq(tostring(time.parse_duration("1.5s")), "1.5s")
  assert.eq(time.parse_duration("250ms"):string(), "250ms")
  assert.eq(time.parse_duration("-2m3s"):seconds(), -123.0)
  assert.eq(time.parse_duration(1500):microseconds(), 1, "numbers are nanoseconds")
  assert.eq(time.parse_duration("0"):string(), "0s")
  local _, bad = time.parse_duration("1 hour")
  assert.is_error(bad, errors.INVALID)
  _, bad = time.parse_duration("12")
  assert.is_error(bad, errors.INVALID, "a unit is required")
  assert.ok(time.parse_duration("1s") < time.parse_duration("2s"))
  assert.eq((time.parse_duration("1s") + time.parse_duration("500ms")):string(), "1.5s")
  assert.eq(time.SECOND, 1000000000)
  assert.eq(time.HOUR, 3600 * time.SECOND)
  return true
end

function T.time_methods()
  local t = time.unix(1136214245, 0) -- 2006-01-02T15:04:05Z, Go's reference time
  assert.eq(t:unix(), 1136214245)
  assert.eq(t:unix_nano(), 1136214245 * time.SECOND)
  assert.eq(t:format(time.RFC3339), "2006-01-02T15:04:05Z")
  assert.eq(t:format_rfc3339(), "2006-01-02T15:04:05Z")
  assert.eq(t:format("Mon Jan _2 15:04:05 2006"), "Mon Jan  2 15:04:05 2006")
  assert.eq(t:format(time.KITCHEN), "3:04PM")
  assert.eq(t:format(time.DATE_ONLY), "2006-01-02")
  local y, m, d = t:date()
  assert.deep_eq({y, m, d}, {2006, 1, 2})
  local h, mi, s = t:clock()
  assert.deep_eq({h, mi, s}, {15, 4, 5})
  assert.eq(t:year(), 2006)
  assert.eq(t:month(), time.JANUARY)
  assert.eq(t:day(), 2)
  assert.eq(t:weekday(), time.MONDAY)
  assert.eq(t:year_day(), 2)
  local later = t:add("25h")
  assert.eq(later:day(), 3)
  assert.eq(later:sub(t):hours(), 25.0)
  assert.ok(later:after(t) and t:before(later) and not t:equal(later))
  assert.ok(t == time.unix(1136214245, 0), "== compares instants")
  assert.eq(t:add_date(0, 1, 30):format(time.DATE_ONLY), "2006-03-04", "add_date normalises")
  assert.eq(t:truncate("1h"):format(time.TIME_ONLY), "15:00:00")
  assert.eq(t:round("1h"):format(time.TIME_ONLY), "15:00:00")
  assert.eq(time.unix(0, 1500000000):format("05.000"), "01.500")
  assert.ok(not t:is_zero())
  assert.eq(tostring(t), "2006-01-02 15:04:05 +0000 UTC")
  return true
end

function T.date_and_parse()
  local t = time.date(2024, 2, 29, 12, 30, 0, 0, time.utc)
  assert.eq(t:format(time.DATE_TIME), "2024-02-29 12:30:00")
  assert.eq(t:weekday(), time.THURSDAY)
  local p, err = time.parse(time.RFC3339, "2024-03-10T12:30:45+02:00")
  assert.no_error(err)
  assert.eq(p:utc():format(time.DATE_TIME), "2024-03-10 10:30:45")
  p, err = time.parse("2006-01-02 15:04:05", "2024-03-10 12:30:45.250")
  assert.no_error(err)
  assert.eq(p:nanosecond(), 250000000)
  local _, perr = time.parse(time.DATE_ONLY, "not a date")
  assert.is_error(perr, errors.INVALID)
  return true
end

function T.locations()
  local loc, err = time.load_location("America/New_York")
  assert.no_error(err)
  local t = time.unix(1136214245, 0):in_location(loc)
  assert.eq(t:format("2006-01-02 15:04 MST -0700"), "2006-01-02 10:04 EST -0500")
  assert.eq(t:location():string(), "America/New_York")
  local fixed = time.fixed_zone("X", 3600)
  assert.eq(time.unix(0, 0):in_location(fixed):format("15:04 -07:00"), "01:00 +01:00")
  local _, e = time.load_location("Nowhere/Atlantis")
  assert.is_error(e, errors.NOT_FOUND)
  _, e = time.load_location("")
  assert.is_error(e, errors.INVALID)
  assert.eq(time.utc:string(), "UTC")
  return true
end

return T
