-- The `errors` module (a global), and how error values look to scripts.
-- Run privileged once per runtime by beamish.luabridge._modules.install_modules, with
-- (host, kinds); returns the module table. Documented in beamish.luabridge._lib_errors.
-- Host code (beamish's own, not a script): compiled once per Python process.

local host, kinds = ...
local new_error, is_error = host.new_error, host.is_error
local type, tostring, rawget, rawset, error = type, tostring, rawget, rawset, error
local next, pairs, select, pack, unpack = next, pairs, select, table.pack, table.unpack
local tonumber = tonumber
local getinfo, dbg_getmetatable = debug.getinfo, debug.getmetatable
local string_format, string_gmatch, string_match = string.format, string.gmatch, string.match
local concat = table.concat

local M = {}
for k, v in pairs(kinds) do M[k] = v end

-- ---------------------------------------------------------------------------
-- Stacks: the script frames of the caller, written as a Lua traceback (the same text
-- a raised error carries). Host code is loaded stripped (no line information), so its
-- frames drop out.
-- ---------------------------------------------------------------------------
local MAX_FRAMES = 32

local function frame_name(info)
  local nw = info.namewhat
  if nw == "global" then return "function '" .. info.name .. "'" end
  if nw ~= nil and nw ~= "" then return nw .. " '" .. info.name .. "'" end
  if info.what == "main" then return "main chunk" end
  return "function <" .. info.short_src .. ":" .. info.linedefined .. ">"
end

local function capture_stack(level)
  local lines, n = {"stack traceback:"}, 1
  for lv = level, level + 2 * MAX_FRAMES do
    local info = getinfo(lv, "Sln")
    if info == nil or n > MAX_FRAMES then break end
    if info.currentline ~= nil and info.currentline > 0 then
      n = n + 1
      lines[n] = string_format("\t%s:%d: in %s", info.short_src, info.currentline,
        frame_name(info))
    end
  end
  if n == 1 then return nil end
  return concat(lines, "\n")
end

-- ---------------------------------------------------------------------------
-- Details: copied when the error is made, so the error never shares a table with the
-- script (Wippy converts them to Go values the same way). Plain data only: a cycle or
-- more than MAX_DEPTH levels is refused (the error could not cross to another process);
-- an error value becomes its message, a function or coroutine its tostring, and keys
-- that are not strings, numbers or booleans are dropped.
-- ---------------------------------------------------------------------------
local MAX_DEPTH = 100
local problem

local function copy_details(v, onpath, depth)
  local tv = type(v)
  if tv == "string" or tv == "number" or tv == "boolean" then return v end
  if tv ~= "table" then return (tv == "userdata") and "userdata" or tostring(v) end
  if is_error(v) then return rawget(v, "__message") end
  if onpath[v] then
    problem = "'details' contains a cycle (a table inside itself); details must be "
      .. "plain data"
    return nil
  end
  if depth > MAX_DEPTH then
    problem = "'details' is nested deeper than " .. MAX_DEPTH .. " levels"
    return nil
  end
  onpath[v] = true
  local c = {}
  for k, x in next, v do
    local tk = type(k)
    if tk == "string" or tk == "number" or tk == "boolean" then
      local cx = copy_details(x, onpath, depth + 1)
      if problem then return nil end
      c[k] = cx
    end
  end
  onpath[v] = nil
  return c
end

-- ---------------------------------------------------------------------------
-- The module.
-- ---------------------------------------------------------------------------
local function text_of(v)
  if type(v) == "string" then return v end
  if is_error(v) then return rawget(v, "__message") end
  return nil
end

function M.new(arg, extra)
  if is_error(arg) then return arg end
  local ta = type(arg)
  if ta == "string" then
    if extra ~= nil then
      error("errors.new(kind, message) is not supported; "
        .. "write errors.new{kind = errors.X, message = '...'}", 2)
    end
    return new_error("", arg, nil, nil, capture_stack(3))
  end
  if ta ~= "table" then
    error("bad argument #1 to 'new' (expected string or table, got " .. ta .. ")", 2)
  end
  local msg = rawget(arg, "message")
  if msg == nil then error("bad argument #1 to 'new' (message field is required)", 2) end
  msg = text_of(msg)
  if msg == nil then error("bad argument #1 to 'new' (message must be a string)", 2) end
  local kind = rawget(arg, "kind")
  if type(kind) ~= "string" then kind = "" end           -- Wippy ignores other types
  local retryable = rawget(arg, "retryable")
  if type(retryable) ~= "boolean" then retryable = nil end
  local details = rawget(arg, "details")
  if type(details) == "table" and not is_error(details) then
    problem = nil
    details = copy_details(details, {}, 1)
    if problem then
      local why = problem
      problem = nil
      error("bad argument #1 to 'new' (" .. why .. ")", 2)
    end
    if next(details) == nil then details = nil end
  else
    details = nil
  end
  return new_error(kind, msg, retryable, details, capture_stack(3))
end

-- The wrapper keeps the wrapped error's message, kind, retryable flag and details; its
-- context shows in stack() (and in the message of an error that wraps it in turn).
function M.wrap(err, context)
  local ctx = text_of(context)
  if not is_error(err) and type(err) ~= "string" then
    error("bad argument #1 to 'wrap' (expected string or error object, got "
      .. type(err) .. ")", 2)
  end
  if ctx == nil then
    error("bad argument #2 to 'wrap' (expected string or error object, got "
      .. type(context) .. ")", 2)
  end
  local stack = {ctx}
  stack[#stack + 1] = capture_stack(3)
  local wrapped
  if is_error(err) then
    local message = rawget(err, "__message")
    local inner = rawget(err, "__context")
    if inner ~= nil then message = inner .. ": " .. message end
    stack[#stack + 1] = rawget(err, "__stack")
    wrapped = new_error(rawget(err, "__kind"), message, rawget(err, "__retryable"),
      rawget(err, "__details"), concat(stack, "\n"))
  else
    wrapped = new_error("", err, nil, nil, concat(stack, "\n"))
  end
  rawset(wrapped, "__context", ctx)
  return wrapped
end

M["is"] = function(err, kind)
  local tk = type(kind)
  if tk == "number" then
    kind = tostring(kind)
  elseif tk ~= "string" then
    error("bad argument #2 to 'is' (string expected, got " .. (kind == nil and "nil" or tk)
      .. "; use a constant such as errors.NOT_FOUND)", 2)
  end
  if not is_error(err) then return false end
  return rawget(err, "__kind") == kind
end

-- {thread, frames = {{level, source, line, name, type}...}}, or nil when the error
-- has no frames (Wippy's shape). Reads both the stack() lines errors.new writes and a
-- Lua traceback (the stack of a raised error).
function M.call_stack(err)
  if not is_error(err) then return nil end
  local stack = rawget(err, "__stack")
  if type(stack) ~= "string" then return nil end
  local frames, n = {}, 0
  for line in string_gmatch(stack, "[^\n]+") do
    local src, ln, name = string_match(line, "^%s+(.-):(%d+) %((.*)%)$")
    if src == nil then
      src, ln, name = string_match(line, "^%s*(.-):(%d+): in (.*)$")
    end
    if src ~= nil then
      n = n + 1
      frames[n] = {level = n - 1, source = src, line = tonumber(ln), name = name,
                   type = "Lua"}
    end
  end
  if n == 0 then return nil end
  return {thread = "main", frames = frames}
end

-- ---------------------------------------------------------------------------
-- What scripts see of error values, as in Wippy where they are userdata whose message
-- stands in for a string: type(err) is "userdata", and the string library takes an
-- error wherever it takes a string (string.find(err, "not found"), err as a pattern,
-- string.len(err)...). Both only change how existing values are read: no new power.
-- ---------------------------------------------------------------------------
local BASE = host.BASE
local raw_type = BASE.type
BASE.type = function(...)
  if select("#", ...) == 0 then error("bad argument #1 to 'type' (value expected)", 2) end
  local t = raw_type(...)
  if t == "table" and is_error((...)) then return "userdata" end
  return t
end

local function coerced(f)
  return function(...)
    local a, b, c = ...
    if (type(a) == "table" and is_error(a)) or (type(b) == "table" and is_error(b))
        or (type(c) == "table" and is_error(c)) then
      local args = pack(...)
      for i = 1, args.n do
        local v = args[i]
        if is_error(v) then args[i] = rawget(v, "__message") end
      end
      return f(unpack(args, 1, args.n))
    end
    return f(...)
  end
end

local WRAPPED = {}
local function wrap_lib(lib)
  for k, f in next, lib do
    if type(f) == "function" then
      local w = WRAPPED[f]
      if w == nil then w = coerced(f); WRAPPED[f] = w end
      rawset(lib, k, w)
    end
  end
end
wrap_lib(host.real(BASE.string))                    -- string.find(...)
wrap_lib(rawget(dbg_getmetatable(""), "__index"))   -- ("..."):find(...)

return M
