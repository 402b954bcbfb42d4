-- The sandbox prelude: the privileged Lua half of the sandbox (environments, read-only
-- module proxies, the instruction budget and memory checks, the step function).
-- Run once per runtime by beamish.luabridge._runtime (Sandbox), with (H, HOOK_STEP,
-- default instruction budget, settings S, the pattern matcher); returns the host table.
-- Its design is documented in beamish.luabridge._prelude.
-- Host code (beamish's own, not a script): compiled once per Python process.

local H, HOOK_STEP, DEFAULT_LIMIT, S, PAT = ...
local type, pairs, next, select = type, pairs, next, select
local error, tostring, tonumber = error, tostring, tonumber
local setmetatable, getmetatable = setmetatable, getmetatable
local rawget, rawset, rawequal = rawget, rawset, rawequal
local pcall, xpcall, assert, ipairs = pcall, xpcall, assert, ipairs
local pack, unpack, concat = table.pack, table.unpack, table.concat
local co_create, co_resume, co_yield = coroutine.create, coroutine.resume, coroutine.yield
local co_status, co_running, co_close = coroutine.status, coroutine.running, coroutine.close
local co_isyieldable = coroutine.isyieldable
local sethook, traceback = debug.sethook, debug.traceback
local dbg_getmetatable = debug.getmetatable
local load = load
local string_dump, string_format = string.dump, string.format
local string_byte, string_gsub = string.byte, string.gsub
local utf8_len = utf8.len

-- ---------------------------------------------------------------------------
-- 1. Lock the shared string metatable and strip the real libraries.
-- ---------------------------------------------------------------------------
local STRING_MT = getmetatable("")
STRING_MT.__metatable = false          -- getmetatable('') now returns false
string.dump = nil                      -- also unreachable as ("").dump

-- ---------------------------------------------------------------------------
-- 2. Read-only proxies.
-- ---------------------------------------------------------------------------
local PROTECTED = setmetatable({}, {__mode = "k"})   -- proxy -> true
local REAL = setmetatable({}, {__mode = "k"})        -- proxy -> real table (host only)

local function readonly(t, name)
  local proxy = {}
  PROTECTED[proxy] = true
  REAL[proxy] = t
  local function iter(_, k) return next(t, k) end
  setmetatable(proxy, {
    __index = t,
    __newindex = function(_, k)
      error(string_format("attempt to modify read-only table '%s' (field '%s')",
        name, tostring(k)), 2)
    end,
    __pairs = function() return iter, proxy, nil end,
    __len = function() return #t end,
    __metatable = false,
  })
  return proxy
end

-- Metatables of host objects (channels, messages, errors, timers, futures...): their
-- tables cannot gain fields (__newindex raises) and the sandbox's rawset refuses them,
-- so no script can plant a function in an object the host or another process calls.
-- Objects shared by processes (process.inbox(), module constants) are therefore
-- immutable; every other host object is made for the one process that asked for it.
local HOST_MT = setmetatable({}, {__mode = "k"})
local function lock_mt(mt, kind)
  if rawget(mt, "__newindex") == nil then
    rawset(mt, "__newindex", function(_, k)
      error(string_format("cannot modify a %s object (field '%s')", kind, tostring(k)), 2)
    end)
  end
  HOST_MT[mt] = true
  return mt
end

-- Deep: nested plain tables become proxies too (process.event, time constants...);
-- objects (tables with a metatable, e.g. time.utc or the logger) are wrapped as they
-- are, so their methods keep working while nobody can change them.
local function readonly_deep(t, name)
  if dbg_getmetatable(t) ~= nil then return readonly(t, name) end
  local real = {}
  for k, v in next, t do
    if type(v) == "table" and not PROTECTED[v] then
      real[k] = readonly_deep(v, name .. "." .. tostring(k))
    else
      real[k] = v
    end
  end
  return readonly(real, name)
end

-- ---------------------------------------------------------------------------
-- 3. Threads, owners, and what one step may cost (instructions, time, memory).
-- ---------------------------------------------------------------------------
local OWNER = setmetatable({}, {__mode = "k"})   -- thread -> P (process state)
-- thread -> true for the coroutines scripts made themselves (coroutine.create/wrap);
-- every other thread a script can reach is a task the driver schedules. (Marking the
-- few user coroutines rather than every task saves an entry per idle process.)
local USERCO = setmetatable({}, {__mode = "k"})
-- thread -> true for threads whose hook fires every FINE_STEP instructions (see below).
local FINE = setmetatable({}, {__mode = "k"})
local BUDGET_MSG = "instruction budget exceeded"
local os_clock = os.clock
local collectgarbage = collectgarbage
local function gc_kib() return collectgarbage("count") end
-- the settings, fixed for the runtime's life (S stays the source for the host)
local TIMEOUT, QUOTA, GUARD_KIB = S.timeout, S.quota, S.guard_kib
local FINE_STEP, FINE_KIB = S.fine_step, S.fine_kib

-- One step runs at a time per runtime (the driver's invariant), so what the running
-- step may still spend lives in upvalues, not in every P.
local STEP_BUDGET = DEFAULT_LIMIT   -- instructions left
local STEP_T0 = false               -- os.clock() when the step was first checked
local STEP_KIB = gc_kib()           -- KiB in use when the last step ended

local function kill_hook() error(BUDGET_MSG, 0) end

-- Stop the running step of P for `why` ("budget", "timeout", "memory"): every further
-- instruction of the thread raises, so pcall cannot swallow it; the driver then ends
-- the process whatever the script did with the error.
local function exhaust(co, P, why)
  P.exhausted = why
  sethook(co, kill_hook, "", 1)
  error(BUDGET_MSG, 0)
end

-- The step's time (CPU time of the process, os.clock) is read lazily: the first check
-- of a step starts its clock, so a step that never reaches a check (the common case:
-- a few hundred instructions) costs nothing.
local function over_time()
  local t0 = STEP_T0
  if not t0 then STEP_T0 = os_clock(); return false end
  return os_clock() - t0 > TIMEOUT
end

local function budget_hook()
  local co = co_running()
  local P = OWNER[co]
  if P == nil then return end
  local left = STEP_BUDGET - (FINE[co] and FINE_STEP or HOOK_STEP)
  STEP_BUDGET = left
  if left < 0 then exhaust(co, P, "budget") end
  if over_time() then exhaust(co, P, "timeout") end
end

-- Work done inside a C function on a script's behalf, charged as instructions (the
-- count hook cannot see it). Called by the metered library wrappers (section 6b).
local function charge(n)
  local co = co_running()
  local P = OWNER[co]
  if P == nil then return end
  local left = STEP_BUDGET - n
  STEP_BUDGET = left
  if left < 0 then exhaust(co, P, "budget") end
  if n > 100000 and over_time() then exhaust(co, P, "timeout") end
end

-- Slow instructions. Some single VM instructions cost time proportional to the data
-- they touch (`..` of multi-MiB strings, comparing two long strings), so 10,000 of
-- them between two hook calls could take minutes. Such steps allocate a lot or hold a
-- lot, which is what this watch sees: a finalizer that re-arms itself runs once per
-- garbage-collection cycle, in whichever thread allocates. It checks the step's time
-- (a finalizer cannot raise, so it switches the thread to the kill hook) and, once the
-- step has grown the heap by more than S.fine_kib, makes that thread's hook fire every
-- S.fine_step instructions for the rest of its life.
local GC_MT = {}
GC_MT.__gc = function()
  local co = co_running()
  local P = OWNER[co]
  if P ~= nil and not P.exhausted then
    if over_time() then
      P.exhausted = "timeout"
      sethook(co, kill_hook, "", 1)
    elseif not FINE[co] and gc_kib() - STEP_KIB > FINE_KIB then
      FINE[co] = true
      sethook(co, budget_hook, "", FINE_STEP)
    end
  end
  setmetatable({}, GC_MT)
end
setmetatable({}, GC_MT)

local function new_thread(P, fn)
  local co = co_create(fn)
  OWNER[co] = P
  sethook(co, budget_hook, "", HOOK_STEP)
  return co
end

local function current_process()
  return OWNER[co_running()]
end

-- Room for the host. A Python callback's arguments and results are pushed by lupa
-- where a failed allocation cannot be handled (it would abort the host), so before
-- any call into Python the heap must be under the scripts' cap (GUARD_KIB; the
-- allocator's cap is higher, and the difference is the host's headroom). If it is not
-- (the running step filled it), a full collection is tried, and then the running
-- process is stopped: it is the one that filled the heap within its step.
local function room()
  if gc_kib() > GUARD_KIB then
    collectgarbage("collect")
    if gc_kib() > GUARD_KIB then
      local co = co_running()
      local P = OWNER[co]
      if P ~= nil then P.exhausted = "memory"; sethook(co, kill_hook, "", 1) end
      error("not enough memory", 0)
    end
  end
end

-- ---------------------------------------------------------------------------
-- 4. Error objects (the `errors` module's values).
-- ---------------------------------------------------------------------------
-- They behave as Wippy's (userdata there): the methods answer a default ("" or nil)
-- for a value that is not an error, details() is a fresh copy (nil when empty) so no
-- script can change an error another holds, stack() is always a string, `==` is
-- identity, `#err` is an error. errors.lua makes type(err) "userdata" for scripts.
local ERR_METHODS = {}
local ERR_MT = {__index = ERR_METHODS, __metatable = "error"}
local function is_error(v) return type(v) == "table" and dbg_getmetatable(v) == ERR_MT end
-- details are plain data (copied, acyclic, bounded in depth by errors.new and the
-- converter); a shared subtable is copied once and stays shared
local function copy_data(v, seen)
  if type(v) ~= "table" or is_error(v) then return v end
  local c = seen[v]
  if c ~= nil then return c end
  c = {}
  seen[v] = c
  for k, x in next, v do c[k] = copy_data(x, seen) end
  return c
end
function ERR_METHODS.kind(e) return is_error(e) and rawget(e, "__kind") or "" end
function ERR_METHODS.message(e) return is_error(e) and rawget(e, "__message") or "" end
function ERR_METHODS.retryable(e)
  if is_error(e) then return rawget(e, "__retryable") end
  return nil
end
function ERR_METHODS.details(e)
  local d = is_error(e) and rawget(e, "__details") or nil
  if type(d) == "table" then
    if next(d) == nil then return nil end
    return copy_data(d, {})
  end
  return d
end
function ERR_METHODS.stack(e) return is_error(e) and rawget(e, "__stack") or "" end
ERR_MT.__tostring = function(e) return tostring(rawget(e, "__message")) end
ERR_MT.__len = function()
  error("attempt to get length of an error value (use #err:message())", 2)
end
ERR_MT.__concat = function(a, b)
  local function text(v)
    if is_error(v) then
      return tostring(rawget(v, "__message"))
    end
    return v
  end
  local sa, sb = text(a), text(b)
  return sa .. sb
end
lock_mt(ERR_MT, "error")

local function new_error(kind, message, retryable, details, stack)
  return setmetatable({__kind = kind, __message = message, __retryable = retryable,
                       __details = details, __stack = stack}, ERR_MT)
end

-- ---------------------------------------------------------------------------
-- 5. Data markers used by the converter (see _convert.py).
-- ---------------------------------------------------------------------------
local IS_MAP = setmetatable({}, {__mode = "k"})  -- empty tables that stand for {} (not [])
local SPECIAL = setmetatable({}, {__mode = "k"}) -- metatable -> tag, for host-made objects
SPECIAL[ERR_MT] = "error"

local function classify(v)
  local mt = dbg_getmetatable(v)
  if mt ~= nil then
    local tag = SPECIAL[mt]
    if tag then return tag end
  end
  if IS_MAP[v] then return "map" end
  return "table"
end

local function to_hex(s)
  return (string_gsub(s, ".", function(c) return string_format("%02x", string_byte(c)) end))
end

-- export(v): flatten a Lua value for Python in one call (rules in _convert.py).
-- Returns tags (a string, one character per node) and the node values in order:
--   n nil | t true | f false | i integer | d float | s string (valid UTF-8) | x binary
--   string (value: hex) | L list (value: length, then that many nodes) | M map (value:
--   pair count, then key node, value node per pair) | E error (then 5 nodes: kind,
--   message, retryable, details, stack) | other upper-case tags from EXPORT (then one
--   node: the plain value the object exports as).
-- Failures return nil and a message naming the path: cycles, functions/threads/
-- userdata, table keys, more than MAX_NODES nodes or MAX_DEPTH levels. Shared
-- (non-cyclic) subtables are
-- exported once per use. Only raw operations: no script metamethod runs here.
local EXPORT = {}   -- metatable -> function(obj) return tag_char, plain_value end
-- A string that is not valid UTF-8, boxed so lupa never has to decode it (lupa's UTF-8
-- decoding would raise); exported as tag X with its hex form.
local BIN = {__metatable = false}
EXPORT[BIN] = function(b) return "X", rawget(b, "hex") end
local function box_binary(r, i, j)
  for k = i, j do
    local v = r[k]
    if type(v) == "string" and not utf8_len(v) then r[k] = setmetatable({hex = to_hex(v)}, BIN) end
  end
end
local MAX_NODES = 1000000
local math_type = math.type
local EXPORT_FAIL = {}

-- Limits (S): at most S.max_depth nested tables (the same bound as Python -> Lua and
-- the kernel's isolation, so whatever leaves a sender can enter any receiver), and at
-- most S.max_payload bytes of string data, so an oversized value fails at its sender.
local function export(root)
  local tags, vals, nt, nv = {}, {}, 0, 0
  local onpath, keys, depth, tdepth, bytes = {}, {}, 0, 0, 0
  local max_depth, max_bytes = S.max_depth, S.max_payload
  local failure
  local function fail(msg)
    local parts = {"value"}
    for i = 1, math.min(depth, 20) do
      local k = keys[i]
      parts[#parts + 1] = (type(k) == "string") and ("." .. k) or ("[" .. tostring(k) .. "]")
    end
    if depth > 20 then parts[#parts + 1] = "..." end
    failure = concat(parts) .. ": " .. msg
    error(EXPORT_FAIL, 0)
  end
  local function count(sv)
    bytes = bytes + #sv
    if bytes > max_bytes then
      fail("too large: more than " .. max_bytes .. " bytes of string data (the host's "
        .. "limits.max_payload); send a smaller value or split it")
    end
  end
  local enc
  local function child(k, v)
    depth = depth + 1
    keys[depth] = k
    enc(v)
    depth = depth - 1
  end
  function enc(v)
    nt = nt + 1
    if nt > MAX_NODES then
      fail("value too large to convert (more than " .. MAX_NODES .. " nodes)")
    end
    local tv = type(v)
    if tv == "string" then
      count(v)
      if utf8_len(v) then tags[nt] = "s"; nv = nv + 1; vals[nv] = v
      else tags[nt] = "x"; nv = nv + 1; vals[nv] = to_hex(v) end
    elseif tv == "number" then
      tags[nt] = (math_type(v) == "integer") and "i" or "d"; nv = nv + 1; vals[nv] = v
    elseif tv == "boolean" then tags[nt] = v and "t" or "f"
    elseif tv == "nil" then tags[nt] = "n"
    elseif tv == "table" then
      if onpath[v] then fail("cyclic table (a table that contains itself cannot be converted)") end
      local mt = dbg_getmetatable(v)
      onpath[v] = true
      if mt == ERR_MT then
        tags[nt] = "E"
        tdepth = tdepth + 1   -- an error's details nest like a table's fields
        if tdepth > max_depth then fail("nested deeper than " .. max_depth .. " levels") end
        child("kind", rawget(v, "__kind")); child("message", rawget(v, "__message"))
        child("retryable", rawget(v, "__retryable")); child("details", rawget(v, "__details"))
        child("stack", rawget(v, "__stack"))
        tdepth = tdepth - 1
        onpath[v] = nil
        return
      end
      local exporter = mt and EXPORT[mt]
      if exporter then
        local tag, plain = exporter(v)
        tags[nt] = tag
        enc(plain)
        onpath[v] = nil
        return
      end
      tdepth = tdepth + 1
      if tdepth > max_depth then
        fail("nested deeper than " .. max_depth .. " levels")
      end
      local count_, maxk, seq = 0, 0, true
      for k in next, v do
        count_ = count_ + 1
        if seq then
          if math_type(k) == "integer" and k > 0 then
            if k > maxk then maxk = k end
          else seq = false end
        end
      end
      if count_ == 0 then
        tags[nt] = IS_MAP[v] and "M" or "L"; nv = nv + 1; vals[nv] = 0
      elseif seq and maxk <= 2 * count_ then
        tags[nt] = "L"; nv = nv + 1; vals[nv] = maxk
        for i = 1, maxk do child(i, rawget(v, i)) end
      else
        tags[nt] = "M"; nv = nv + 1; vals[nv] = count_
        for k, x in next, v do
          local tk = type(k)
          if tk ~= "string" and tk ~= "number" and tk ~= "boolean" then
            fail("table keys of type " .. tk .. " cannot be converted (use strings or numbers)")
          end
          enc(k)
          child(k, x)
        end
      end
      tdepth = tdepth - 1
      onpath[v] = nil
    else
      fail("a Lua " .. tv .. " cannot be converted (only nil, booleans, numbers, "
        .. "strings and tables of them cross the boundary)")
    end
  end
  local ok, err = pcall(enc, root)
  if not ok then
    if err == EXPORT_FAIL then return nil, failure end
    error(err, 0)
  end
  return concat(tags), vals, nv, bytes
end

-- ---------------------------------------------------------------------------
-- 6. The sandboxed base library.
-- ---------------------------------------------------------------------------
local CMD = setmetatable({}, {__metatable = false, __tostring = function() return "command" end})

local BASE = {}
local ENV_MT = {__index = BASE, __metatable = false}

local sb = {}
-- A userdata never reaches a script by design; if one ever did, its text (a Python
-- repr with a heap address) must not.
local function sb_tostring(v)
  if type(v) == "userdata" then return "userdata" end
  return tostring(v)
end
function sb.setmetatable(t, mt)
  if type(t) ~= "table" then error("bad argument #1 to 'setmetatable' (table expected)", 2) end
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("__gc metamethods are not allowed in the sandbox", 2)
  end
  if PROTECTED[t] then error("cannot change the metatable of a read-only table", 2) end
  return setmetatable(t, mt)
end
function sb.rawset(t, k, v)
  if PROTECTED[t] then error("attempt to modify a read-only table with rawset", 2) end
  local mt = dbg_getmetatable(t)
  if mt ~= nil and HOST_MT[mt] then error("cannot modify a host object with rawset", 2) end
  return rawset(t, k, v)
end
function sb.xpcall(f, handler, ...)
  return xpcall(f, function(e)
    local P = OWNER[co_running()]
    if P and P.exhausted then return e end      -- runs unhooked: never call user code
    return handler(e)
  end, ...)
end
function sb.print(...)
  local n = select("#", ...)
  local parts = {}
  for i = 1, n do parts[i] = sb_tostring((select(i, ...))) end
  local text = concat(parts, "\t")
  if not utf8_len(text) then text = string_gsub(text, "[\128-\255]", "?") end
  room()
  H.print(text)
end

-- coroutine: scheduler-aware wrappers --------------------------------------
local sbco = {}
function sbco.create(f)
  if type(f) ~= "function" then error("bad argument #1 to 'create' (function expected)", 2) end
  local P = OWNER[co_running()]
  if P == nil then
    error("coroutines can only be created by code running in a process or function", 2)
  end
  local co = new_thread(P, f)
  USERCO[co] = true
  return co
end
local function forward(co, r)
  -- r = pack(co_resume(co, ...)). A command yielded inside a user coroutine goes up
  -- to whoever drives us (ultimately the driver); its answer resumes the inner one.
  while r[1] and rawequal(r[2], CMD) and co_status(co) == "suspended" do
    r = pack(co_resume(co, co_yield(unpack(r, 2, r.n))))
  end
  return r
end
function sbco.resume(co, ...)
  if type(co) == "thread" and not USERCO[co] then
    error("cannot resume a coroutine managed by the scheduler", 2)
  end
  local r = forward(co, pack(co_resume(co, ...)))
  return unpack(r, 1, r.n)
end
function sbco.wrap(f)
  local co = sbco.create(f)
  return function(...)
    local r = forward(co, pack(co_resume(co, ...)))
    if r[1] then return unpack(r, 2, r.n) end
    error(r[2], 0)
  end
end
function sbco.close(co)
  if type(co) == "thread" and not USERCO[co] then
    error("cannot close a coroutine managed by the scheduler", 2)
  end
  return co_close(co)
end
sbco.yield = co_yield
sbco.status = co_status
sbco.running = co_running
sbco.isyieldable = co_isyieldable
-- coroutine.spawn is installed by the driver layer (it needs the scheduler).

-- os: only the clock functions (the rest reaches the host) -------------------
local sbos = {time = os.time, clock = os.clock, date = os.date, difftime = os.difftime}

-- ---------------------------------------------------------------------------
-- 6b. Metered C functions: work the count hook cannot see is charged as instructions.
-- ---------------------------------------------------------------------------
-- A C function runs to completion between two VM instructions, so `table.move` over
-- 2^60 slots or a backtracking pattern would run for hours unseen. Functions whose
-- time is not proportional to memory they allocate (allocation is bounded by the
-- memory limits and watched by the GC watch above) are wrapped here: the wrapper
-- charges the work as instructions before the call (1 per element, so a huge request
-- fails at once), or, for a scan whose length is only known afterwards, checks the
-- step's time (see scan). Patterns are
-- routed: the C matcher only when its worst case (about n^(q+1) steps for a subject of
-- n bytes and q unbounded repetitions or back-references, doubled per `?`) is small,
-- else the Lua matcher of `_lua_patterns` (PAT), whose every step the hook meters.
local CHEAP = 256
local SAFE_WORK = 1e6
-- the C functions, called as fields so their argument errors keep their names
local C = {find = string.find, match = string.match, gmatch = string.gmatch,
           gsub = string.gsub, byte = string.byte, unpack = string.unpack, rep = string.rep,
           tonumber = tonumber, concat = table.concat, move = table.move,
           insert = table.insert, remove = table.remove, sort = table.sort,
           tunpack = table.unpack, len = utf8.len, codepoint = utf8.codepoint,
           offset = utf8.offset}
local str_len, math_max = string.len, math.max
local PAT_COST = {}      -- pattern -> {q + r, k}; cleared when it grows past 512
local PAT_COST_N = 0

local function abs_init(n, init)
  if init == nil then return 1 end
  if math_type(init) == nil then return 1 end
  if init > 0 then return init end
  if init == 0 then return 1 end
  return math_max(n + init + 1, 1)
end

-- Worst-case C matcher steps for `pat` on `n` bytes (math.huge when unknown).
local function pattern_work(pat, n, anchored_ok)
  local c = PAT_COST[pat]
  if c == nil then
    -- q repetitions, k optional items, r back-references (see _lua_patterns.cost)
    local q, k, r = PAT.cost(pat, false)
    c = {q + r, k}
    if PAT_COST_N > 512 then PAT_COST = {}; PAT_COST_N = 0 end
    PAT_COST[pat] = c
    PAT_COST_N = PAT_COST_N + 1
  end
  local q, questions = c[1], c[2]
  if questions > 20 then return math.huge end
  local starts = (anchored_ok and string_byte(pat, 1) == 94) and 0 or 1   -- '^'
  return (n + 1) ^ (q + starts) * 2 ^ questions * str_len(pat)
end

local function route(s, pat, init, anchored_ok)
  -- true: use C (argument errors and number coercions are C's to report)
  if type(s) ~= "string" or type(pat) ~= "string" then return true, 0 end
  local n = #s - abs_init(#s, init) + 1
  if n < 0 then n = 0 end
  local work = pattern_work(pat, n, anchored_ok)
  return work <= SAFE_WORK, n
end

-- A scan of n bytes (find, match, utf8.len...): its real length is unknown before the
-- call (a search may stop at once), so it is not charged in full; a long one checks the
-- step's time first and pays 1 instruction per 4 KiB. Each such call is bounded by the
-- size of a string, so a loop of them is bounded by these checks.
local BIG_SCAN = 65536
-- stop the running step if it is over its time (after costly work the hook cannot see)
local function check_time()
  if over_time() then
    local co = co_running()
    local P = OWNER[co]
    if P ~= nil then exhaust(co, P, "timeout") end
  end
end
local function scan(n)
  if n > BIG_SCAN then
    charge(n // 4096)
    check_time()
  end
end

-- Scripts get copies of the libraries with the metered functions; the host's own code
-- (the modules' implementations) keeps the real tables and pays nothing.
local function copy_lib(t) local c = {} for k, v in next, t do c[k] = v end return c end
local SB_STRING, SB_TABLE, SB_UTF8 = copy_lib(string), copy_lib(table), copy_lib(utf8)
STRING_MT.__index = SB_STRING          -- ("x"):find(...) is the metered one too

-- (the C functions are tail-called, so their errors name the script's line)
function SB_STRING.find(s, pat, init, plain)
  if plain and type(s) == "string" then
    scan(#s)
    return C.find(s, pat, init, plain)
  end
  local use_c, n = route(s, pat, init, true)
  if use_c then scan(n); return C.find(s, pat, init, plain) end
  return PAT.find(s, pat, init, plain)
end

function SB_STRING.match(s, pat, init)
  local use_c, n = route(s, pat, init, true)
  if use_c then scan(n); return C.match(s, pat, init) end
  return PAT.match(s, pat, init)
end

function SB_STRING.gmatch(s, pat, init)
  local use_c, n = route(s, pat, init, false)
  if use_c then scan(n); return C.gmatch(s, pat, init) end
  return PAT.gmatch(s, pat, init)
end

function SB_STRING.gsub(s, pat, repl, max_n)
  local use_c, n = route(s, pat, nil, true)
  if use_c then scan(n); return C.gsub(s, pat, repl, max_n) end
  return PAT.gsub(s, pat, repl, max_n)
end

function SB_STRING.byte(s, i, j)
  if type(s) == "string" and j ~= nil and math_type(j) then
    local n = #s
    local a, b = abs_init(n, i), j < 0 and n + j + 1 or j
    if b - a > CHEAP then charge(b - a) end
  end
  return C.byte(s, i, j)
end

-- rep's time follows the size of its result, except that it loops once per copy even
-- when the copies are empty: (""):rep(2^62) allocates nothing and never ends
function SB_STRING.rep(s, n, sep)
  if math_type(n) and n > CHEAP and type(s) == "string" and #s == 0
      and (sep == nil or (type(sep) == "string" and #sep == 0)) then
    charge(n < 2^53 and n or 2^53)
  end
  return C.rep(s, n, sep)
end

function SB_STRING.unpack(fmt, s, pos)
  if type(s) == "string" then scan(#s) end
  return C.unpack(fmt, s, pos)
end

local function sb_tonumber(v, base)
  if type(v) == "string" then scan(#v) end
  if base == nil then return C.tonumber(v) end
  return C.tonumber(v, base)
end

-- table functions: one instruction per element touched
local function span(t, i, j)
  if type(t) ~= "table" then return 0 end
  i = math_type(i) and i or 1
  if j == nil then j = #t end
  if math_type(j) == nil then return 0 end
  local n = j - i + 1
  return n > 0 and n or 0
end
function SB_TABLE.concat(t, sep, i, j)
  local n = span(t, i, j)
  if n > CHEAP then charge(n) end
  return C.concat(t, sep, i, j)
end
function SB_TABLE.move(a1, f, e, t, a2)
  if math_type(f) and math_type(e) and e >= f then
    local n = e - f
    if n > CHEAP then charge(n < 2^53 and n or 2^53) end
  end
  return C.move(a1, f, e, t, a2)
end
function SB_TABLE.insert(t, ...)
  if select("#", ...) >= 2 and type(t) == "table" then
    local pos = ...
    if math_type(pos) then
      local n = #t - pos
      if n > CHEAP then charge(n) end
    end
  end
  return C.insert(t, ...)
end
function SB_TABLE.remove(t, ...)
  if type(t) == "table" and select("#", ...) >= 1 then
    local pos = ...
    if math_type(pos) then
      local n = #t - pos
      if n > CHEAP then charge(n) end
    end
  end
  return C.remove(t, ...)
end
function SB_TABLE.sort(t, cmp)
  if type(t) == "table" then
    local n = #t
    if n > 64 then charge(n * (math.log(n, 2) // 1 + 1)) end
  end
  return C.sort(t, cmp)
end
function SB_TABLE.unpack(t, i, j)
  local n = span(t, i, j)
  if n > CHEAP then charge(n) end
  return C.tunpack(t, i, j)
end

function SB_UTF8.len(s, i, j, lax)
  if type(s) == "string" then scan(#s) end
  return C.len(s, i, j, lax)
end
function SB_UTF8.codepoint(s, i, j, lax)
  if type(s) == "string" then scan(#s) end
  return C.codepoint(s, i, j, lax)
end
function SB_UTF8.offset(s, n, i)
  if type(s) == "string" then scan(#s) end
  return C.offset(s, n, i)
end

local function install(name, value)
  if type(value) == "table" and not PROTECTED[value] then value = readonly_deep(value, name) end
  BASE[name] = value
end

for _, name in ipairs({"assert", "error", "ipairs", "next", "pairs", "pcall", "select",
                       "type", "rawequal", "rawget"}) do
  BASE[name] = _G[name]
end
BASE.tonumber = sb_tonumber
BASE.tostring = sb_tostring
-- Userdata never reach scripts by design; if one ever did, its metatable (lupa's,
-- shared by every Python object) must stay out of reach.
BASE.getmetatable = function(v)
  if type(v) == "userdata" then return nil end
  return getmetatable(v)
end
BASE._VERSION = _VERSION
BASE.unpack = SB_TABLE.unpack        -- Lua 5.1 name, used by Wippy scripts
BASE.setmetatable = sb.setmetatable
BASE.rawset = sb.rawset
BASE.xpcall = sb.xpcall
BASE.print = sb.print
install("string", SB_STRING)         -- metered copies (section 6b), minus dump
install("table", SB_TABLE)
install("math", math)
install("utf8", SB_UTF8)
install("os", sbos)
install("coroutine", sbco)

-- 6c. Casts of the typed dialect: string(v), number(v), integer(v), boolean(v). Typed
-- Wippy code calls them to narrow a dynamic value (string(msg:payload():data())), so
-- each returns its argument when it already has the type, converts where the
-- conversion loses nothing, and otherwise returns nil plus an Invalid error naming the
-- value's type. `string` stays the string library: the call goes through a __call on
-- the library proxy's own metatable (type(string) is still "table").
local function cast_fail(v, target, why)
  return nil, new_error("Invalid", string_format("cannot cast %s to %s%s",
    type(v), target, why or ""), false)
end
local function cast_integer(v)
  local tv = type(v)
  if tv == "string" then
    local n = tonumber(v)
    if n == nil then return cast_fail(v, "integer", string_format(" (%q is not a number)", v)) end
    v, tv = n, "number"
  end
  if tv ~= "number" then return cast_fail(v, "integer") end
  if math_type(v) == "integer" then return v end
  local i = math.tointeger(v)
  if i == nil then return cast_fail(v, "integer", " (" .. tostring(v) .. " is not integral)") end
  return i
end
BASE.integer = cast_integer
BASE.number = function(v)
  local tv = type(v)
  if tv == "number" then return v end
  if tv == "string" then
    local n = tonumber(v)
    if n ~= nil then return n end
    return cast_fail(v, "number", string_format(" (%q is not a number)", v))
  end
  return cast_fail(v, "number")
end
BASE.boolean = function(v)
  if type(v) == "boolean" then return v end
  if v == "true" then return true elseif v == "false" then return false end
  return cast_fail(v, "boolean")
end
rawset(dbg_getmetatable(BASE.string), "__call", function(_, v)
  local tv = type(v)
  if tv == "string" then return v end
  if tv == "number" then return tostring(v) end
  return cast_fail(v, "string")
end)
-- Not installed at all: load, loadstring, dofile, loadfile, require (per env, below),
-- collectgarbage, rawlen, io, debug, package, python, os.execute/exit/remove/rename/
-- tmpname/getenv/setlocale.

-- ---------------------------------------------------------------------------
-- 7. Entries, environments and require.
-- ---------------------------------------------------------------------------
local MODULES = {}     -- name -> read-only module (require-able, gated by `modules:`)
local GLOBAL_MODULES = {}  -- name -> true: require(name) of a global needs no allow-list
local ENTRIES = {}     -- entry id -> spec {id, chunk, modules = set, imports = map}
local LOADING = {}
-- Modules built on first use (a fresh workflow runtime should not pay for `time` when
-- its script never requires it): name -> group {bc, args, names}. A group is one host
-- chunk (precompiled by the host) returning one module, or a table of several by name.
local LAZY = {}

local function install_module(name, value, is_global)
  if type(value) == "table" and not PROTECTED[value] then value = readonly_deep(value, name) end
  MODULES[name] = value
  if is_global then GLOBAL_MODULES[name] = true; BASE[name] = value end
  return value
end

local function lazy_args(ok, ...)
  if not ok then error((...), 0) end
  return ...
end

local function build_lazy(g)
  room()
  local chunk, err = load(g.bc, "=lazy", "b")
  if chunk == nil then error(err, 0) end
  local out = chunk(lazy_args(g.args()))
  local names = g.names
  if #names == 1 then out = {[names[1]] = out} end
  for i = 1, #names do
    local name = names[i]
    install_module(name, out[name], false)
    LAZY[name] = nil
  end
end

local function module_of(name)
  local mod = MODULES[name]
  if mod == nil then
    local g = LAZY[name]
    if g ~= nil then
      build_lazy(g)
      mod = MODULES[name]
    end
  end
  return mod
end

local new_env

local function require_in(P, spec, name)
  if type(name) ~= "string" then error("bad argument #1 to 'require' (string expected)", 3) end
  local target = spec.imports and spec.imports[name]
  if target then
    local loaded = P.loaded
    if not loaded then loaded = {}; P.loaded = loaded end
    local mod = loaded[target]
    if mod == LOADING then
      error("circular import of '" .. target .. "' (require '" .. name .. "')", 3)
    end
    if mod ~= nil then return mod end
    local lib = ENTRIES[target]
    if not lib then
      error("import '" .. name .. "' of entry '" .. spec.id
        .. "' refers to unknown library '" .. target .. "'", 3)
    end
    loaded[target] = LOADING
    local ok, res = pcall(lib.chunk, new_env(P, lib))
    if not ok then loaded[target] = nil; error(res, 0) end
    if res == nil then res = true end
    loaded[target] = res
    return res
  end
  if GLOBAL_MODULES[name] or (spec.modules and spec.modules[name]) then
    local mod = module_of(name)
    if mod ~= nil then return mod end
  elseif MODULES[name] ~= nil or LAZY[name] ~= nil then
    error("module '" .. name .. "' is not allowed for entry '" .. spec.id ..
          "': add it to the entry's modules list", 3)
  end
  error("module '" .. name .. "' not found (entry '" .. spec.id
    .. "': not a built-in module nor an import alias)", 3)
end

function new_env(P, spec)
  local env = setmetatable({}, ENV_MT)
  env._G = env
  env.require = spec.require or function(name) return require_in(P, spec, name) end
  return env
end

-- One `require` per entry, shared by all its processes (a closure per process cost
-- 128 bytes per idle process): the process is the running thread's owner.
local function spec_require(spec)
  return function(name)
    local P = OWNER[co_running()]
    if P == nil then error("require needs a running process", 2) end
    return require_in(P, spec, name)
  end
end

local CHUNK_UPVALUE_ENV = readonly({}, "chunk environment")

local function compile(src, chunkname)
  -- Same line as the first source line: error line numbers stay the script's own.
  return load("local _ENV = (...); " .. src, chunkname, "t", CHUNK_UPVALUE_ENV)
end

local function register_entry(id, chunk, modules, imports)
  local mods = {}
  if modules then for _, m in ipairs(modules) do mods[m] = true end end
  local imps = {}
  if imports then for alias, target in pairs(imports) do imps[alias] = target end end
  local spec = {id = id, chunk = chunk, modules = mods, imports = imps}
  spec.require = spec_require(spec)
  ENTRIES[id] = spec
  return spec
end

-- ---------------------------------------------------------------------------
-- 8. Processes, tasks and the resume step.
-- ---------------------------------------------------------------------------
local function new_process(spec, limit)
  -- P's integer keys are its tasks' threads (tid -> thread): no separate table. Four
  -- string keys at most while idle (spec, mem, ntid, mod: one 4-node hash part):
  -- `limit` only when it is not the runtime's default, `exhausted` only once set.
  -- `mem` is the process's memory balance in bytes (see after()).
  local P = {spec = spec, mem = 0, ntid = 0}
  if limit ~= DEFAULT_LIMIT then P.limit = limit end
  return P
end

local function add_task(P, fn)
  local co = new_thread(P, fn)
  local tid = P.ntid + 1
  P.ntid = tid
  P[tid] = co
  return tid, co
end

-- The body of a main task: instantiate the script (once per P: pooled function
-- workers reuse it), resolve `method`, call it.
local function entry_body(P, spec, method, args)
  local mod = P.mod
  if mod == nil then
    mod = spec.chunk(new_env(P, spec))
    if mod == nil then mod = false end
    P.mod = mod
  end
  local fn
  if type(mod) == "function" then
    fn = mod
  elseif type(mod) == "table" then
    fn = mod[method]
    if type(fn) ~= "function" then
      error(new_error("Invalid", string_format(
        "entry '%s' has no function '%s' (the script returns a table without it)",
        spec.id, tostring(method)), false), 0)
    end
  else
    error(new_error("Invalid", string_format(
      "entry '%s' must return a table of functions or a function, got %s",
      spec.id, type(mod)), false), 0)
  end
  return fn(unpack(args, 1, args.n))
end

-- Task bodies are shared functions, not per-process closures (memory per idle
-- process). A new task is *primed*: resumed once with its start arguments, it keeps
-- them as locals and yields at once, so nothing holds them elsewhere until its first
-- step (the driver's first resume passes nothing).
local function entry_main(method, args)
  co_yield()
  local P = OWNER[co_running()]
  return entry_body(P, P.spec, method, args)
end
local function call_main(fn, args)
  co_yield()
  return fn(unpack(args, 1, args.n))
end

-- A pooled function worker: one long-lived task per worker. Each call resumes it with
-- (method, args); it answers with DONE and the results and waits for the next call, so
-- a call does not create a coroutine. A raised error ends the task (and the worker).
local DONE = setmetatable({}, {__metatable = false})
local worker_loop
-- later calls arrive as resume values (method, args...): no table built in Python
function worker_loop(P, method, ...)
  return worker_loop(P, co_yield(DONE, entry_body(P, P.spec, method, pack(...))))
end
local function worker_main(method, args)
  co_yield()
  local P = OWNER[co_running()]
  return worker_loop(P, co_yield(DONE, entry_body(P, P.spec, method, args)))
end

local function start_task(P, body, a, b)
  local tid, co = add_task(P, body)
  local ok, err = co_resume(co, a, b)  -- primed: parks a, b and yields
  if not ok then
    P[tid] = nil
    error(err, 0)
  end
  return tid
end
local function start_entry(P, method, args) return start_task(P, entry_main, method, args) end
local function start_worker(P, method, args) return start_task(P, worker_main, method, args) end
local function start_function(P, fn, args) return start_task(P, call_main, fn, args) end

-- Load-time check: run the top level, report what it exports.
local function start_probe(P, method)
  return (add_task(P, function()
    local mod = P.spec.chunk(new_env(P, P.spec))
    if type(mod) ~= "table" then return type(mod) end
    local names = {}
    for k, v in next, mod do
      if type(k) == "string" and type(v) == "function" then names[#names + 1] = k end
    end
    table.sort(names)
    return "table", names, type(mod[method]) == "function"
  end))
end

-- Resume one task. Returns a tag and values:
--   1, op, ...     the task yielded a command (op: its number, see set_opcodes, or
--                  its name when it has none)
--   3              the task yielded without a command (requeue it)
--   4              the task receives from its inbox (1, "ch_recv", INBOX_H in short)
--   2, n, ...      the task returned n values
--   "e", err, tb   the task raised err; tb is the Lua traceback
--   "k", msg       the process is out of instruction budget (whatever the task did)
--   "m", msg       the task ran out of memory
-- Command names -> small integers (Python dispatches on them: no string crosses).
local OPCODE = {}

local function has_binary(from, ...)
  for i = from, select("#", ...) do
    local v = select(i, ...)
    if type(v) == "string" and not utf8_len(v) then return true end
  end
  return false
end

local function failed(P, tid, co, err)
  P[tid] = nil
  if err == "not enough memory" then return "m", err end
  return "e", err, traceback(co, "", 0)
end

local function boxed(tag, from, ...)
  local r = pack(...)
  box_binary(r, from, r.n)
  return tag, unpack(r, 1, r.n)
end

-- census(P): bytes reachable from P's own roots (its tasks' stacks and functions, its
-- module, its libraries, script closures' upvalues and environments), counting each
-- object once with Lua 5.5's sizes rounded up. Shared host objects are not counted:
-- read-only modules, host metatables, the entry spec, host functions' upvalues.
-- Only run when P's balance (below) says it may be over its quota: the walk costs
-- time in proportion to what P holds.
local dbg_getinfo, dbg_getlocal, dbg_getupvalue = debug.getinfo, debug.getlocal, debug.getupvalue
local string_sub = string.sub
local function census(P)
  local seen, stack, n, total = {[P] = true}, {}, 0, 0
  local function push(v)
    local tv = type(v)
    if (tv == "table" or tv == "string" or tv == "function" or tv == "thread")
        and not seen[v] then
      seen[v] = true
      n = n + 1
      stack[n] = v
    end
  end
  if P.spec then seen[P.spec] = true end
  for k, v in next, P do push(k); push(v) end
  while n > 0 do
    local v = stack[n]
    stack[n] = nil
    n = n - 1
    local tv = type(v)
    if tv == "string" then
      total = total + 24 + #v
    elseif tv == "table" then
      total = total + 56
      if not PROTECTED[v] then
        for k, x in next, v do
          total = total + 24
          push(k)
          push(x)
        end
        local mt = dbg_getmetatable(v)
        if mt ~= nil and mt ~= ENV_MT and not HOST_MT[mt] then push(mt) end
      end
    elseif tv == "function" then
      local info = dbg_getinfo(v, "Su")
      total = total + 40 + 16 * info.nups
      if string_byte(info.source, 1) == 64 then   -- '@': a script's function
        for i = 1, info.nups do
          local _, u = dbg_getupvalue(v, i)
          push(u)
        end
      end
    elseif tv == "thread" then
      total = total + 1024
      local level = 0
      while true do
        local info = dbg_getinfo(v, level, "f")
        if info == nil then break end
        push(info.func)
        local i = 1
        while true do
          local name, x = dbg_getlocal(v, level, i)
          if name == nil then break end
          total = total + 16
          push(x)
          i = i + 1
        end
        i = -1
        while true do
          local name, x = dbg_getlocal(v, level, i)
          if name == nil then break end
          push(x)
          i = i - 1
        end
        level = level + 1
      end
    end
  end
  return total
end

local kill
local INBOX_H   -- the Python inbox handle (set_inbox): its receive is answered as 4

-- after(...) sorts out what one resume gave, without building a table on the
-- common paths (a command yield, a return of plain values).
--
-- Memory. `P.mem` is P's balance: the change of the runtime's heap during P's steps.
-- It over-counts garbage P made that another step collected and under-counts garbage
-- of others P's step collected, so it is only a trigger: once it passes the quota, a
-- census of what P really holds replaces it, and P is stopped only if the census is
-- over the quota too. So the process that holds the memory is the one stopped, never a
-- sibling whose allocation happened to fail.
local function after(P, tid, co, kib, ok, first, ...)
  local now = gc_kib()
  if now > GUARD_KIB then
    -- The step took the runtime past its cap: what it made that is garbage goes now;
    -- if the heap is still over, this step's process is the one that crossed the cap.
    collectgarbage("collect")
    if gc_kib() > GUARD_KIB then
      kill(P)
      P.exhausted = "memory"
      collectgarbage("collect")
      return "k", "memory"
    end
    now = gc_kib()
  end
  STEP_KIB = now
  local held = P.mem + (now - kib) * 1024
  if held < 0 then held = 0 end
  P.mem = held
  if held > QUOTA then
    held = census(P)
    P.mem = held
    if held > QUOTA then
      kill(P)
      P.exhausted = "memory"
      collectgarbage("collect")
      return "q", held
    end
  end
  local why = P.exhausted
  if why then
    P[tid] = nil
    return "k", why
  end
  if not ok then return failed(P, tid, co, first) end
  if co_status(co) == "dead" then
    P[tid] = nil
    local n = select("#", ...) + 1
    if type(first) == "string" and not utf8_len(first) then
      first = setmetatable({hex = to_hex(first)}, BIN)
    end
    if has_binary(1, ...) then return boxed(2, 3, n, first, ...) end
    return 2, n, first, ...
  end
  if rawequal(first, DONE) then  -- a function worker finished a call (stays alive)
    local n = select("#", ...)
    if has_binary(1, ...) then return boxed(2, 2, n, ...) end  -- r[2] is the first result
    return 2, n, ...
  end
  if rawequal(first, CMD) then
    local op, h = ...
    if op == "ch_recv" and rawequal(h, INBOX_H) then return 4 end
    if has_binary(2, ...) then return boxed(1, 2, OPCODE[op] or op, select(2, ...)) end
    return 1, OPCODE[op] or op, select(2, ...)
  end
  return 3
end

local function step(P, tid, ...)
  local co = P[tid]
  if co == nil then
    local why = P.exhausted
    if why then return "k", why == true and "killed" or why end
    return "e", "no such task " .. tostring(tid), ""
  end
  STEP_BUDGET = P.limit or DEFAULT_LIMIT
  STEP_T0 = false
  -- the heap when the last step ended: what Python pushed since (this step's resume
  -- values) is this step's too
  return after(P, tid, co, STEP_KIB, co_resume(co, ...))
end

local function drop_task(P, tid)
  P[tid] = nil
end

local function drop_tasks(P)
  for k in next, P do
    if math_type(k) == "integer" then P[k] = nil end
  end
end

function kill(P)
  drop_tasks(P)
  -- `exhausted` is a new key (an idle P has none): after a failed allocation there may
  -- be no memory for it, and a P without tasks is finished anyway.
  if P.exhausted == nil then pcall(rawset, P, "exhausted", true) end
end

-- Drop the tasks but keep the instantiated module and the worker task `keep`
-- (pooled function workers).
local function reset(P, keep)
  local worker = keep and P[keep]
  drop_tasks(P)
  if worker then P[keep] = worker end
  return not P.exhausted
end

-- ---------------------------------------------------------------------------
-- 9. Calls into Python, and the host code loaded after the prelude.
-- ---------------------------------------------------------------------------
-- Strings that are not valid UTF-8 are boxed (lupa would fail to decode them and hand
-- the script a Python exception object); room() first (see section 3).
local function box_args(...)
  local n = select("#", ...)
  if n == 1 then
    local v = ...
    if type(v) == "string" and not utf8_len(v) then
      return setmetatable({hex = to_hex(v)}, BIN)
    end
    return v
  end
  if n == 0 then return end
  if not has_binary(1, ...) then return ... end
  local r = pack(...)
  box_binary(r, 1, n)
  return unpack(r, 1, n)
end

local function clean_error(e)
  if type(e) == "userdata" then   -- a Python exception lupa turned into a Lua error
    return new_error("Internal", "a host call failed (the host log has the details)", false)
  end
  return e
end
local MAX_PAYLOAD = S.max_payload
local function guard_result(ok, ...)
  check_time()  -- Python's time is the step's too: a costly call in a loop stops here
  if ok then return ... end
  error(clean_error((...)), 0)
end
-- guard(f): f, a Python callback, as scripts may call it (directly or through a
-- module): room, arguments within the payload limit and boxed, the step's time checked
-- afterwards, and never a Python object as the error.
local function guard(f)
  return function(...)
    room()
    for i = 1, select("#", ...) do
      local v = select(i, ...)
      if type(v) == "string" and #v > MAX_PAYLOAD then
        error(new_error("Invalid", "value: too large: " .. #v .. " bytes of string data, "
          .. "more than the host's limits.max_payload (" .. MAX_PAYLOAD .. ")", false), 2)
      end
    end
    return guard_result(pcall(f, box_args(...)))
  end
end

-- Host code loaded after the prelude (the modules' implementations, run with the real
-- globals) gets a setmetatable that locks each host object metatable (one whose
-- __metatable is a string: "channel", "timer"...) the first time it is used.
local raw_setmetatable = setmetatable
_G.setmetatable = function(t, mt)
  if type(mt) == "table" and not HOST_MT[mt] then
    local tag = rawget(mt, "__metatable")
    if type(tag) == "string" then lock_mt(mt, tag) end
  end
  return raw_setmetatable(t, mt)
end

-- ---------------------------------------------------------------------------
-- 10. The host table (Python only).
-- ---------------------------------------------------------------------------
return {
  lock_mt = lock_mt,
  raw_setmetatable = raw_setmetatable,
  room = room,
  check_time = check_time,
  guard = guard,
  CMD = CMD,
  BASE = BASE,
  readonly = readonly,
  real = function(proxy) return REAL[proxy] end,
  readonly_deep = readonly_deep,
  install = install,
  install_module = install_module,
  -- lazy_modules(bytecode, args, name...): the chunk runs on the first require of any
  -- of the names, with args() (a host function) as its arguments.
  lazy_modules = function(bc, args, ...)
    local g = {bc = bc, args = args, names = {...}}
    for i = 1, #g.names do LAZY[g.names[i]] = g end
  end,
  -- a module (built now if lazy), or one of its fields: for the host's own use
  module = function(name, field)
    local mod = module_of(name)
    if field == nil or mod == nil then return mod end
    return mod[field]
  end,
  compile = compile,
  register_entry = register_entry,
  unregister_entry = function(id) ENTRIES[id] = nil end,
  entry = function(id) return ENTRIES[id] end,
  start_probe = start_probe,
  new_env = new_env,
  new_process = new_process,
  add_task = function(P, fn) return (add_task(P, fn)) end,
  add_task_co = add_task,
  start_entry = start_entry,
  start_function = start_function,
  start_worker = start_worker,
  has_task = function(P, tid) return P[tid] ~= nil end,
  -- after a worker's call: drop other tasks; true if the worker can serve again
  end_call = function(P, tid)
    local worker = P[tid]
    drop_tasks(P)
    if worker == nil or P.exhausted then return false end
    P[tid] = worker
    return true
  end,
  step = step,
  drop_task = drop_task,
  kill = kill,
  reset = reset,
  set_opcodes = function(t) for k, v in pairs(t) do OPCODE[k] = v end end,
  set_inbox = function(h) INBOX_H = h end,
  is_exhausted = function(P) return P.exhausted ~= nil end,
  limit_of = function(P) return P.limit or DEFAULT_LIMIT end,
  current_process = current_process,
  new_error = new_error,
  is_error = is_error,
  ERR_MT = ERR_MT,
  IS_MAP = IS_MAP,
  SPECIAL = SPECIAL,
  mark_map = function(t) IS_MAP[t] = true; return t end,
  classify = classify,
  EXPORT = EXPORT,
  -- export for Python: tags, node-value count, string bytes, then either nil + the
  -- values (small) or the values table (large: Python unpacks it in chunks).
  export = function(v)
    local tags, vals, nv, bytes = export(v)
    if tags == nil then return nil, vals end
    if nv <= 2000 then return tags, nv, bytes, nil, unpack(vals, 1, nv) end
    return tags, nv, bytes, vals
  end,
  unpack = unpack,
  BIN = BIN,
  -- the arguments, with strings that are not valid UTF-8 boxed (lupa would fail to
  -- decode them on the way into a Python callback)
  box_args = box_args,
  unbox = function(v)
    if type(v) == "table" and dbg_getmetatable(v) == BIN then
      local function byte(h) return string.char(tonumber(h, 16)) end
      return (string_gsub(rawget(v, "hex"), "..", byte))
    end
    return v
  end,
  to_hex = to_hex,
  pack = pack,
  make_table = function(...) return {...} end,
  task_count = function(P)
    local n = 0
    for k in next, P do if math_type(k) == "integer" then n = n + 1 end end
    return n
  end,
}
