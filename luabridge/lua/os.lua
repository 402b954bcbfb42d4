-- The `os` module: Wippy's `os` is a global that may also be listed in `modules:`; it
-- holds only the clock functions (the sandbox's `os` global is the same set). Run
-- privileged once per runtime by beamish.luabridge._modules.install_modules (no
-- arguments); returns the module. Documented in beamish.luabridge._lib_io.
-- Host code (beamish's own, not a script): compiled once per Python process.

return {time = os.time, clock = os.clock, date = os.date, difftime = os.difftime}
