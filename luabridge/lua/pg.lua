-- The `pg` module (require("pg")): process groups of a pg.scope entry.
-- Registered lazily by beamish.luabridge._modules.install_modules and run privileged on
-- its first require, with (core); returns the module. Documented in
-- beamish.luabridge._lib_pg.
-- Host code (beamish's own, not a script): compiled once per Python process.

local core = ...
local sync, handle = core.sync, core.handle
local type, error, setmetatable = type, error, setmetatable

-- Instances and subscriptions are empty tables with a locked metatable; what they stand
-- for lives here (weak keys), where no script can reach it.
local INST = setmetatable({}, {__mode = "k"})   -- instance -> {id = scope ID, released}
local SUB = setmetatable({}, {__mode = "k"})    -- subscription -> {ch = channel, closed}

local function invalid(msg)
  return errors.new{kind = errors.INVALID, message = msg, retryable = false}
end

local I = {}
local I_MT = {__index = I, __metatable = "pg.Instance",
              __tostring = function(inst)
                local d = INST[inst]
                return "pg.Instance{" .. d.id .. (d.released and ", released}" or "}")
              end}
local S = {}
local S_MT = {__index = S, __metatable = "pg.Subscription",
              __tostring = function() return "pg.Subscription{}" end}

-- the scope ID of a live instance, or nil (released); raises for a non-instance
local function scope_of(inst, fname)
  local d = INST[inst]
  if d == nil then
    error("bad argument #1 to '" .. fname .. "' (pg.Instance expected; use inst:" ..
          fname .. "(...))", 3)
  end
  if d.released then return nil end
  return d.id
end
local function released() return invalid("pg instance is released") end

local function groups_arg(g)
  local t = type(g)
  return t == "string" or t == "table"
end

function I.join(inst, groups, pid)
  local id = scope_of(inst, "join")
  if id == nil then return nil, released() end
  if not groups_arg(groups) then
    return nil, invalid("group name (string) or groups table required")
  end
  return sync("pg_join", id, groups, pid)
end
function I.leave(inst, groups, pid)
  local id = scope_of(inst, "leave")
  if id == nil then return nil, released() end
  if not groups_arg(groups) then
    return nil, invalid("group name (string) or groups table required")
  end
  return sync("pg_leave", id, groups, pid)
end
function I.get_members(inst, group)
  local id = scope_of(inst, "get_members")
  if id == nil then return nil, released() end
  return sync("pg_members", id, group, false)
end
function I.get_local_members(inst, group)
  local id = scope_of(inst, "get_local_members")
  if id == nil then return nil, released() end
  return sync("pg_members", id, group, true)
end
function I.which_groups(inst)
  local id = scope_of(inst, "which_groups")
  if id == nil then return nil, released() end
  return sync("pg_groups", id, false)
end
function I.which_local_groups(inst)
  local id = scope_of(inst, "which_local_groups")
  if id == nil then return nil, released() end
  return sync("pg_groups", id, true)
end
function I.broadcast(inst, group, topic, ...)
  local id = scope_of(inst, "broadcast")
  if id == nil then return nil, released() end
  return sync("pg_broadcast", id, false, group, topic, ...)
end
function I.broadcast_local(inst, group, topic, ...)
  local id = scope_of(inst, "broadcast_local")
  if id == nil then return nil, released() end
  return sync("pg_broadcast", id, true, group, topic, ...)
end

local function subscription(ch, members, err)
  if ch == nil then return nil, nil, err end
  local sub = setmetatable({}, S_MT)
  SUB[sub] = {ch = ch}
  return sub, members
end
function I.monitor(inst, group)
  local id = scope_of(inst, "monitor")
  if id == nil then return nil, nil, released() end
  return subscription(sync("pg_monitor", id, false, group))
end
function I.events(inst)
  local id = scope_of(inst, "events")
  if id == nil then return nil, nil, released() end
  return subscription(sync("pg_monitor", id, true))
end
function I.release(inst)
  scope_of(inst, "release")
  INST[inst].released = true
  return true
end

local function sub_of(sub, fname)
  local d = SUB[sub]
  if d == nil then
    error("bad argument #1 to '" .. fname .. "' (pg.Subscription expected; use sub:" ..
          fname .. "())", 3)
  end
  return d
end
function S.channel(sub) return sub_of(sub, "channel").ch end
-- close(opts?): Wippy's {flush = true} is what close always does here (the events not
-- yet received are dropped)
function S.close(sub)
  local d = sub_of(sub, "close")
  if not d.closed then
    d.closed = true
    sync("pg_unsubscribe", handle(d.ch, "close"))
  end
  return true
end

local pg = {}
function pg.open(id)
  if type(id) ~= "string" then
    error("bad argument #1 to 'open' (scope entry ID string expected)", 2)
  end
  local scope, err = sync("pg_open", id)
  if scope == nil then return nil, err end
  local inst = setmetatable({}, I_MT)
  INST[inst] = {id = scope}
  return inst
end

return pg
