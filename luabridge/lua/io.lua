-- The `io` module (require("io")): Wippy's terminal IO. beamish has no terminal host, so
-- every process runs without a terminal context and gets what Wippy answers then.
-- Registered lazily by beamish.luabridge._modules.install_modules and run privileged on
-- its first require (no arguments); returns the module. Documented in
-- beamish.luabridge._lib_io.
-- Host code (beamish's own, not a script): compiled once per Python process.

local NO_TERMINAL = "no terminal context"
local function unavailable() return nil, NO_TERMINAL end

local io = {
  write = unavailable, print = unavailable, eprint = unavailable, read = unavailable,
  readline = unavailable, raw = unavailable, flush = unavailable,
}
function io.args() return {} end

return io
