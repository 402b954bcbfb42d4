"""The public surface of beamish.luabridge is pinned."""

import beamish.luabridge as lb

EXPECTED = {
    "DEFAULT_INSTRUCTION_BUDGET",
    "DEFAULT_MAX_MEMORY",
    "GLOBAL_MODULES",
    "KIND_HANDLERS",
    "LUA_VERSION",
    "ConversionError",
    "Converter",
    "DirectAwait",
    "Driver",
    "HostLua",
    "LuaEntrySpec",
    "LuaKeyed",
    "LuaScripts",
    "LuaSyntaxError",
    "Sandbox",
    "StepResult",
    "add_module",
    "check_entry",
    "command",
    "exec_await",
    "install_modules",
    "run_lua_process",
    "scripts_for",
    "spec_from_entry",
}


def test_exports_are_pinned_and_importable():
    assert set(lb.__all__) == EXPECTED
    for name in lb.__all__:
        assert hasattr(lb, name), name


def test_public_classes_report_the_facade_module():
    for name in ("Sandbox", "Converter", "Driver", "LuaScripts", "LuaEntrySpec"):
        assert getattr(lb, name).__module__ == "beamish.luabridge"
