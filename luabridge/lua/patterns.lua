-- Lua's pattern functions (find, match, gmatch, gsub) in Lua, so the budget hook can
-- meter them: a port of lstrlib.c's matcher, plus cost() to tell cheap patterns apart.
-- Run once per runtime by beamish.luabridge._runtime (Sandbox), which hands the table
-- it returns to the prelude. Its design is documented in beamish.luabridge._lua_patterns.
-- Host code (beamish's own, not a script): compiled once per Python process.

local byte, sub, format = string.byte, string.sub, string.format
local concat, tmove = table.concat, table.move
local type, select, error, tonumber, rawget = type, select, error, tonumber, rawget
local setmetatable, pairs = setmetatable, pairs
local math_type, tointeger, min = math.type, math.tointeger, math.min
local getinfo, dbg_getmetatable = debug.getinfo, debug.getmetatable

local MAXCAPTURES = 32
local MAXCCALLS = 200
local CAP_UNFINISHED = -1
local CAP_POSITION = -2
local LONG_PATTERN = 4096    -- longer patterns are read through a proxy, not copied

local B_PCT, B_LBRACK, B_RBRACK, B_CARET = 37, 91, 93, 94
local B_LPAR, B_RPAR, B_DOLLAR, B_DOT = 40, 41, 36, 46
local B_STAR, B_PLUS, B_MINUS, B_QUEST = 42, 43, 45, 63
local B_b, B_f, B_0, B_9 = 98, 102, 48, 57

-- Character classes: CLASS[letter byte] is a table byte -> boolean (C locale, ASCII).
-- An upper-case letter maps to the complement. Any other byte after '%' is itself.
local CLASS = {}
do
  local function upper(c) return c >= 65 and c <= 90 end
  local function lower(c) return c >= 97 and c <= 122 end
  local function digit(c) return c >= 48 and c <= 57 end
  local function alpha(c) return upper(c) or lower(c) end
  local function alnum(c) return alpha(c) or digit(c) end
  local function graph(c) return c >= 33 and c <= 126 end
  local defs = {
    a = alpha,
    c = function(c) return c < 32 or c == 127 end,
    d = digit,
    g = graph,
    l = lower,
    p = function(c) return graph(c) and not alnum(c) end,
    s = function(c) return c == 32 or (c >= 9 and c <= 13) end,
    u = upper,
    w = alnum,
    x = function(c)
      return digit(c) or (c >= 97 and c <= 102) or (c >= 65 and c <= 70)
    end,
    z = function(c) return c == 0 end,
  }
  for letter, pred in pairs(defs) do
    local yes, no = {}, {}
    for c = 0, 255 do
      local r = pred(c) and true or false
      yes[c], no[c] = r, not r
    end
    CLASS[byte(letter)] = yes
    CLASS[byte(letter:upper())] = no
  end
end

local SPECIAL = {}
for i = 1, 10 do SPECIAL[byte("^$*+?.([%-", i)] = true end

-- The running match (see the module docstring for who may interleave).
local S, SLEN = "", 0          -- subject; positions 1..SLEN, SLEN + 1 is its end
local PB, PLEN = {}, 0         -- pattern bytes; PLEN + 1 is the pattern's end
local level = 0                -- captures opened so far (finished or not)
local depth = MAXCCALLS        -- nested do_match calls still allowed
local cinit, clen = {}, {}     -- capture i: start position, length or CAP_*

local INTERNAL = {}            -- every function of this chunk, for the error walk

-- Raise msg at the first frame that is not this chunk (where C's luaL_error would
-- point). With arg, build luaL_argerror's message from the entry function's frame.
local function throw(msg, arg, fname)
  local lvl = 2
  while true do
    local info = getinfo(lvl, "f")
    if info == nil or not INTERNAL[info.func] then break end
    lvl = lvl + 1
  end
  if arg then
    local info = getinfo(lvl - 1, "n")
    local name = info and info.name
    if info and info.namewhat == "method" then
      arg = arg - 1
      if arg == 0 then
        error(format("calling '%s' on bad self (%s)", name, msg), lvl)
      end
    end
    msg = format("bad argument #%d to '%s' (%s)", arg, name or fname, msg)
  end
  error(msg, lvl)
end

local function typeerror(v, arg, present, expected, fname)
  local got
  if not present then
    got = "no value"
  else
    local mt = dbg_getmetatable(v)
    local nm = mt and rawget(mt, "__name")
    got = type(nm) == "string" and nm or type(v)
  end
  throw(format("%s expected, got %s", expected, got), arg, fname)
end

-- luaL_checklstring: strings, and numbers converted to strings.
local function checkstr(v, arg, nargs, fname)
  if type(v) == "number" then return v .. "" end
  typeerror(v, arg, arg <= nargs, "string", fname)
end

-- luaL_optinteger (nil stands for the default; callers test it first).
local function checkint(v, arg, fname)
  if math_type(v) == "integer" then return v end
  local t = type(v)
  local n = (t == "number" or t == "string") and tonumber(v) or nil
  if n == nil then typeerror(v, arg, true, "number", fname) end
  local i = tointeger(n)
  if i == nil then throw("number has no integer representation", arg, fname) end
  return i
end

-- posrelatI: a 1-based start position, clipped to 1 on the left.
local function posrelat(pos, len)
  if pos > 0 then return pos
  elseif pos == 0 then return 1
  elseif pos < -len then return 1
  else return len + pos + 1 end
end

local function nospecials(p)
  for i = 1, #p do
    if SPECIAL[byte(p, i)] then return false end
  end
  return true
end

local function make_pb(p)
  local n = #p
  if n <= 200 then return {byte(p, 1, n)} end
  if n > LONG_PATTERN then
    return setmetatable({}, {__index = function(_, i) return byte(p, i) end})
  end
  local t = {}
  for i = 1, n, 200 do
    local chunk = {byte(p, i, min(i + 199, n))}
    tmove(chunk, 1, #chunk, i, t)
  end
  return t
end

-- classEnd: index just past the single-character class starting at p.
local function class_end(p)
  local c = PB[p]
  p = p + 1
  if c == B_PCT then
    if p > PLEN then throw("malformed pattern (ends with '%')") end
    return p + 1
  elseif c == B_LBRACK then
    if PB[p] == B_CARET then p = p + 1 end
    repeat                                 -- look for the closing ']'
      if p > PLEN then throw("malformed pattern (missing ']')") end
      local cc = PB[p]
      p = p + 1
      if cc == B_PCT and p <= PLEN then p = p + 1 end   -- skip escapes such as '%]'
    until PB[p] == B_RBRACK
    return p + 1
  end
  return p
end

-- matchbracketclass: p is the '[' of the set, ec its closing ']'.
local function bracket(c, p, ec)
  local sig = true
  if PB[p + 1] == B_CARET then
    sig = false
    p = p + 1
  end
  p = p + 1
  while p < ec do
    local pc = PB[p]
    if pc == B_PCT then
      p = p + 1
      local cl = PB[p]
      local t = CLASS[cl]
      if t then
        if t[c] then return sig end
      elseif cl == c then
        return sig
      end
    elseif PB[p + 1] == B_MINUS and p + 2 < ec then
      if pc <= c and c <= PB[p + 2] then return sig end
      p = p + 2
    elseif pc == c then
      return sig
    end
    p = p + 1
  end
  return not sig
end

local do_match

-- The byte that must start any match of pattern[np..] when that item is a plain
-- character without a suffix, else nil. Then do_match(i, np) fails at once when the
-- subject byte at i differs, and the expand loops may skip the call, provided the
-- call could not have raised "pattern too complex" (depth > 0).
local function literal_at(np)
  local c = PB[np]
  if c == nil or SPECIAL[c] or c == B_RPAR then return nil end
  local sc = PB[np + 1]
  if sc == B_STAR or sc == B_PLUS or sc == B_MINUS or sc == B_QUEST then return nil end
  return c
end

-- Greedy repetition: the longest run first, then one less at a time.
local function max_expand(s, p, ep)
  local pc = PB[p]
  local i = s                       -- first position that does not match the class
  if pc == B_DOT then
    i = SLEN + 1
  elseif pc == B_PCT then
    local cl = PB[p + 1]
    local t = CLASS[cl]
    if t then
      while i <= SLEN and t[byte(S, i)] do i = i + 1 end
    else
      while i <= SLEN and byte(S, i) == cl do i = i + 1 end
    end
  elseif pc == B_LBRACK then
    local ec = ep - 1
    while i <= SLEN and bracket(byte(S, i), p, ec) do i = i + 1 end
  else
    while i <= SLEN and byte(S, i) == pc do i = i + 1 end
  end
  local np = ep + 1
  local lit = depth > 0 and literal_at(np)
  while i >= s do
    if not lit or byte(S, i) == lit then
      local r = do_match(i, np)
      if r then return r end
    end
    i = i - 1
  end
  return nil
end

-- Lazy repetition: the shortest run first, one more at a time.
local function min_expand(s, p, ep)
  local np = ep + 1
  local lit = depth > 0 and literal_at(np)
  local pc = PB[p]
  local t, cl
  if pc == B_PCT then
    cl = PB[p + 1]
    t = CLASS[cl]
  end
  while true do
    if not lit or byte(S, s) == lit then
      local r = do_match(s, np)
      if r then return r end
    end
    if s > SLEN then return nil end
    local c = byte(S, s)
    local m
    if pc == B_DOT then m = true
    elseif t then m = t[c]
    elseif cl then m = c == cl
    elseif pc == B_LBRACK then m = bracket(c, p, ep - 1)
    else m = c == pc end
    if not m then return nil end
    s = s + 1
  end
end

-- match: the end of a match of pattern[p..] at subject position s, or nil.
do_match = function(s, p)
  if depth == 0 then throw("pattern too complex") end
  depth = depth - 1
  while p <= PLEN do
    local pc = PB[p]
    if pc == B_LPAR then                             -- open a capture
      do
        local what, np = CAP_UNFINISHED, p + 1
        if PB[p + 1] == B_RPAR then what, np = CAP_POSITION, p + 2 end
        local l = level
        if l >= MAXCAPTURES then throw("too many captures") end
        l = l + 1
        cinit[l], clen[l], level = s, what, l
        s = do_match(s, np)
        if s == nil then level = level - 1 end       -- undo the capture
      end
      goto done
    elseif pc == B_RPAR then                         -- close a capture
      do
        local l = level
        while l > 0 and clen[l] ~= CAP_UNFINISHED do l = l - 1 end
        if l == 0 then throw("invalid pattern capture") end
        clen[l] = s - cinit[l]
        local r = do_match(s, p + 1)
        if r == nil then clen[l] = CAP_UNFINISHED end
        s = r
      end
      goto done
    elseif pc == B_DOLLAR and p == PLEN then         -- anchor at the end
      if s ~= SLEN + 1 then s = nil end
      goto done
    elseif pc == B_PCT then
      local nc = PB[p + 1]
      if nc == B_b then                              -- balanced %bxy
        if p + 2 >= PLEN then
          throw("malformed pattern (missing arguments to '%b')")
        end
        local b, e = PB[p + 2], PB[p + 3]
        if byte(S, s) ~= b then s = nil; goto done end
        local cont = 1
        local i = s + 1
        while true do
          if i > SLEN then s = nil; goto done end
          local c = byte(S, i)
          if c == e then
            cont = cont - 1
            if cont == 0 then break end
          elseif c == b then
            cont = cont + 1
          end
          i = i + 1
        end
        s, p = i + 1, p + 4
        goto continue
      elseif nc == B_f then                          -- frontier %f[set]
        p = p + 2
        if PB[p] ~= B_LBRACK then throw("missing '[' after '%f' in pattern") end
        local ep = class_end(p)
        local prev = s == 1 and 0 or byte(S, s - 1)
        local cur = byte(S, s) or 0
        if not bracket(prev, p, ep - 1) and bracket(cur, p, ep - 1) then
          p = ep
          goto continue
        end
        s = nil
        goto done
      elseif nc and nc >= B_0 and nc <= B_9 then     -- back-reference %0-%9
        local l = nc - B_0
        if l < 1 or l > level or clen[l] == CAP_UNFINISHED then
          throw(format("invalid capture index %%%d", l))
        end
        local len = clen[l]
        if len >= 0 and SLEN - s + 1 >= len then
          local ci = cinit[l]
          if len == 0 or sub(S, ci, ci + len - 1) == sub(S, s, s + len - 1) then
            s, p = s + len, p + 2
            goto continue
          end
        end
        s = nil
        goto done
      end
    end
    do                                               -- a class, maybe a suffix
      local ep = class_end(p)
      local epc = PB[ep]
      local m = false
      if s <= SLEN then
        local c = byte(S, s)
        if pc == B_DOT then m = true
        elseif pc == B_PCT then
          local cl = PB[p + 1]
          local t = CLASS[cl]
          if t then m = t[c] else m = cl == c end
        elseif pc == B_LBRACK then m = bracket(c, p, ep - 1)
        else m = pc == c end
      end
      if not m then
        if epc == B_STAR or epc == B_QUEST or epc == B_MINUS then
          p = ep + 1                                 -- accept the empty match
        else
          s = nil
          goto done
        end
      elseif epc == B_QUEST then
        local r = do_match(s + 1, ep + 1)
        if r then s = r; goto done end
        p = ep + 1
      elseif epc == B_STAR then
        s = max_expand(s, p, ep)
        goto done
      elseif epc == B_PLUS then
        s = max_expand(s + 1, p, ep)
        goto done
      elseif epc == B_MINUS then
        s = min_expand(s, p, ep)
        goto done
      else
        s, p = s + 1, ep
      end
    end
    ::continue::
  end
  ::done::
  depth = depth + 1
  return s
end

-- get_onecapture for capture i (1-based) of a match spanning s..e-1.
local function onecap(i, s, e)
  if i > level then
    if i ~= 1 then throw(format("invalid capture index %%%d", i)) end
    return sub(S, s, e - 1)
  end
  local l = clen[i]
  if l == CAP_UNFINISHED then throw("unfinished capture") end
  if l == CAP_POSITION then return cinit[i] end
  local ci = cinit[i]
  return sub(S, ci, ci + l - 1)
end

-- push_captures: captures i..n as multiple values (n <= 32).
local function push_from(i, n, s, e)
  if i > n then return end
  if i == n then return onecap(i, s, e) end
  return onecap(i, s, e), push_from(i + 1, n, s, e)
end

local function plain_find(s, p, init)
  local lp, ls = #p, #s
  if lp == 0 then return init, init - 1 end
  local last = ls - lp + 1
  if init > last then return nil end
  local pb = make_pb(p)
  local first = pb[1]
  for i = init, last do
    if byte(s, i) == first then
      local j = 2
      while j <= lp and byte(s, i + j - 1) == pb[j] do j = j + 1 end
      if j > lp then return i, i + lp - 1 end
    end
  end
  return nil
end

local function run_find(want_find, s, p, init)
  local pb = make_pb(p)
  S, SLEN, PB, PLEN = s, #s, pb, #p
  local ls = SLEN
  local anchor = pb[1] == B_CARET
  local pstart = anchor and 2 or 1
  local s1 = init
  while true do
    level, depth = 0, MAXCCALLS
    local e = do_match(s1, pstart)
    if e then
      local n = level
      if want_find then
        if n == 0 then return s1, e - 1 end
        return s1, e - 1, push_from(1, n, s1, e)
      end
      return push_from(1, n == 0 and 1 or n, s1, e)
    end
    if anchor or s1 > ls then return nil end
    s1 = s1 + 1
  end
end

local function find(...)
  local s, p, init, plain = ...
  if type(s) ~= "string" then s = checkstr(s, 1, select("#", ...), "find") end
  if type(p) ~= "string" then p = checkstr(p, 2, select("#", ...), "find") end
  local ls = #s
  if init == nil then init = 1 else init = posrelat(checkint(init, 3, "find"), ls) end
  if init > ls + 1 then return nil end
  if plain or nospecials(p) then return plain_find(s, p, init) end
  return run_find(true, s, p, init)
end

local function match(...)
  local s, p, init = ...
  if type(s) ~= "string" then s = checkstr(s, 1, select("#", ...), "match") end
  if type(p) ~= "string" then p = checkstr(p, 2, select("#", ...), "match") end
  local ls = #s
  if init == nil then init = 1 else init = posrelat(checkint(init, 3, "match"), ls) end
  if init > ls + 1 then return nil end
  return run_find(false, s, p, init)
end

-- One call of a gmatch iterator; st = {s, pb, plen, src, lastmatch}.
local function gmatch_step(st)
  local s = st[1]
  local ls = #s
  S, SLEN, PB, PLEN = s, ls, st[2], st[3]
  local lastmatch = st[5]
  for src = st[4], ls + 1 do
    level, depth = 0, MAXCCALLS
    local e = do_match(src, 1)
    if e and e ~= lastmatch then
      st[4], st[5] = e, e
      local n = level
      return push_from(1, n == 0 and 1 or n, src, e)
    end
  end
end

local function gmatch(...)
  local s, p, init = ...
  if type(s) ~= "string" then s = checkstr(s, 1, select("#", ...), "gmatch") end
  if type(p) ~= "string" then p = checkstr(p, 2, select("#", ...), "gmatch") end
  local ls = #s
  if init == nil then init = 1 else init = posrelat(checkint(init, 3, "gmatch"), ls) end
  if init > ls + 1 then init = ls + 2 end
  local st = {s, make_pb(p), #p, init, false}
  return function() return gmatch_step(st) end
end

-- A replacement string as pieces: literal strings, capture numbers 0-9, and false
-- where a '%' is misused (raised only when a match reaches it, as in C).
local function parse_repl(r)
  local t, n = {}, 0
  local len = #r
  local i, start = 1, 1
  while i <= len do
    if byte(r, i) == B_PCT then
      if i > start then n = n + 1; t[n] = sub(r, start, i - 1) end
      local c = byte(r, i + 1)
      n = n + 1
      if c == B_PCT then
        t[n] = "%"
      elseif c and c >= B_0 and c <= B_9 then
        t[n] = c - B_0
      else
        t[n] = false
        return t, n
      end
      i = i + 2
      start = i
    else
      i = i + 1
    end
  end
  if start <= len then n = n + 1; t[n] = sub(r, start, len) end
  return t, n
end

local function gsub(...)
  local s, p, repl, max_s = ...
  if type(s) ~= "string" then s = checkstr(s, 1, select("#", ...), "gsub") end
  if type(p) ~= "string" then p = checkstr(p, 2, select("#", ...), "gsub") end
  local srcl = #s
  local tr = type(repl)
  if max_s == nil then max_s = srcl + 1 else max_s = checkint(max_s, 4, "gsub") end
  if tr == "number" then
    repl, tr = repl .. "", "string"
  elseif tr ~= "string" and tr ~= "table" and tr ~= "function" then
    typeerror(repl, 3, select("#", ...) >= 3, "string/function/table", "gsub")
  end
  local pieces, npieces, literal
  if tr == "string" then
    pieces, npieces = parse_repl(repl)
    if npieces == 0 then literal = ""
    elseif npieces == 1 and type(pieces[1]) == "string" then literal = pieces[1] end
  end
  local pb, plen = make_pb(p), #p
  S, SLEN, PB, PLEN = s, srcl, pb, plen
  local anchor = pb[1] == B_CARET
  local pstart = anchor and 2 or 1
  local buf, nb = {}, 0
  local copied = 1          -- s[copied..src-1] is kept text not yet in buf
  local src, lastmatch = 1, false
  local n, changed = 0, false
  while n < max_s do
    level, depth = 0, MAXCCALLS
    local e = do_match(src, pstart)
    if e and e ~= lastmatch then
      n = n + 1
      if tr == "string" then
        if src > copied then nb = nb + 1; buf[nb] = sub(s, copied, src - 1) end
        if literal then
          nb = nb + 1; buf[nb] = literal
        else
          for k = 1, npieces do
            local piece = pieces[k]
            local pt = type(piece)
            if pt == "string" then
              nb = nb + 1; buf[nb] = piece
            elseif pt == "number" then
              local v
              if piece == 0 then v = sub(s, src, e - 1) else v = onecap(piece, src, e) end
              nb = nb + 1; buf[nb] = v .. ""
            else
              throw("invalid use of '%' in replacement string")
            end
          end
        end
        copied = e
        changed = true
      else
        local v
        if tr == "function" then
          local nl = level
          v = repl(push_from(1, nl == 0 and 1 or nl, src, e))
        else
          v = repl[onecap(1, src, e)]
        end
        S, SLEN, PB, PLEN = s, srcl, pb, plen      -- user code may have matched
        if v then
          local vt = type(v)
          if vt ~= "string" then
            if vt == "number" then v = v .. ""
            else throw(format("invalid replacement value (a %s)", vt)) end
          end
          if src > copied then nb = nb + 1; buf[nb] = sub(s, copied, src - 1) end
          nb = nb + 1; buf[nb] = v
          copied = e
          changed = true
        end
      end
      src, lastmatch = e, e
    elseif src <= srcl then
      src = src + 1
    else
      break
    end
    if anchor then break end
  end
  if not changed then return s, n end
  if copied <= srcl then nb = nb + 1; buf[nb] = sub(s, copied, srcl) end
  return concat(buf, "", 1, nb), n
end

-- The caller's cheap test: see the module docstring. Never raises.
local function cost(p, plain)
  if plain then return 0, 0, 0 end
  if type(p) == "number" then p = p .. "" end
  if type(p) ~= "string" or nospecials(p) then return 0, 0, 0 end
  local len = #p
  local q, k, r = 0, 0, 0
  local i = byte(p, 1) == B_CARET and 2 or 1
  -- end of the class at i, or nil when it is malformed (the matcher raises there)
  local function cend(j)
    local c = byte(p, j)
    j = j + 1
    if c == B_PCT then
      if j > len then return nil end
      return j + 1
    elseif c == B_LBRACK then
      if byte(p, j) == B_CARET then j = j + 1 end
      repeat
        if j > len then return nil end
        local cc = byte(p, j)
        j = j + 1
        if cc == B_PCT and j <= len then j = j + 1 end
      until byte(p, j) == B_RBRACK
      return j + 1
    end
    return j
  end
  while i <= len do
    local c = byte(p, i)
    local nc = byte(p, i + 1)
    if c == B_LPAR or c == B_RPAR or (c == B_DOLLAR and i == len) then
      i = i + 1
    elseif c == B_PCT and nc == B_b then
      if i + 3 > len then break end
      q = q + 1
      i = i + 4
    elseif c == B_PCT and nc == B_f then
      if byte(p, i + 2) ~= B_LBRACK then break end
      local ep = cend(i + 2)
      if not ep then break end
      i = ep
    elseif c == B_PCT and nc and nc >= B_0 and nc <= B_9 then
      r = r + 1
      i = i + 2
    else
      local ep = cend(i)
      if not ep then break end
      local sc = byte(p, ep)
      if sc == B_STAR or sc == B_PLUS or sc == B_MINUS then
        q = q + 1
        i = ep + 1
      elseif sc == B_QUEST then
        k = k + 1
        i = ep + 1
      else
        i = ep
      end
    end
  end
  return q, k, r
end

for _, f in pairs({
  throw, typeerror, checkstr, checkint, posrelat, nospecials, make_pb, class_end,
  bracket, literal_at, max_expand, min_expand, do_match, onecap, push_from,
  plain_find, run_find, find, match, gmatch_step, gmatch, parse_repl, gsub,
}) do
  INTERNAL[f] = true
end

return {find = find, match = match, gmatch = gmatch, gsub = gsub, cost = cost}
