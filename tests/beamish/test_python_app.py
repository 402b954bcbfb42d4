"""Apps declared in Python (``App.add`` and its decorators), with and without YAML."""

import textwrap

import pytest
import trio

from beamish import App, Error, ErrorKind, LoadError, Server


def test_decorated_functions_and_processes_run_without_yaml():
    app = App()

    @app.function("calc:add")
    def add(a, b):
        return a + b

    @app.process("calc:main")
    async def main(ctx, n):
        return await ctx.call("calc:add", n, 1)

    app.add("calc:host", "process.host")
    assert app.run("calc:main", 41) == 42
    assert add(1, 2) == 3  # the decorator hands the function back unchanged


def test_a_server_class_is_a_process_entry_and_entries_may_refer_forward():
    app = App()

    @app.process("kv:main", host="kv:host")  # the host is declared below
    async def main(ctx):
        echo = ctx.spawn("kv:echo")
        return await ctx.ask(echo, "hi")

    @app.process("kv:echo")
    class Echo(Server):
        def handle_call(self, request, call, state):
            return request * 2, state

    app.add("kv:host", "process.host")
    assert app.run("kv:main") == "hihi"


def test_python_entries_mix_with_yaml(tmp_path):
    (tmp_path / "app.yaml").write_text(
        textwrap.dedent(
            """
            namespace: app
            entries:
              - { name: host, kind: process.host }
            """
        )
    )
    app = App(tmp_path)

    @app.process("app:main", host="app:host")
    async def main(ctx):
        return str(ctx.pid.host)

    assert app.run("app:main") == "app:host"


@pytest.mark.parametrize(
    ("entry_id", "kind", "needle"),
    [
        ("no-colon", "function.py", "must be 'namespace:name'"),
        ("a:b:c", "function.py", "must be 'namespace:name'"),
        ("app:bad name", "function.py", "one word"),
        ("app:x", "function.pyy", "function.pyy"),
    ],
)
def test_bad_declarations_fail_at_the_declaration(entry_id, kind, needle):
    app = App()
    with pytest.raises(LoadError) as info:
        app.add(entry_id, kind, handler=lambda: None)
    assert needle in info.value.message


def test_a_duplicate_id_and_a_late_declaration_are_refused():
    app = App()
    app.add("app:host", "process.host")
    with pytest.raises(LoadError, match="duplicate entry ID 'app:host'"):
        app.add("app:host", "process.host")

    async def go():
        async with app:
            with pytest.raises(Error) as info:
                app.add("app:late", "process.host")
            return info.value.kind

    assert trio.run(go) is ErrorKind.INVALID


def test_a_broken_python_entry_is_reported_when_the_app_starts():
    app = App()

    @app.process("app:main")
    def not_async(ctx):  # a plain function: refused, naming the entry
        return 1

    async def go():
        async with app:
            pass

    with pytest.raises(LoadError) as info:
        trio.run(go)
    assert "app:main" in info.value.message and "async def" in info.value.message


def test_workflow_without_a_worker_names_the_only_one_or_asks_which():
    app = App()
    app.add("app:temporal", "temporal.client")
    app.add("app:w1", "temporal.worker", client="app:temporal", task_queue="q1")

    @app.workflow("app:flow")
    async def flow(ctx):
        return 1

    assert app.loaded.get("app:flow").meta == {"temporal": {"workflow": {"worker": "app:w1"}}}
    app.add("app:w2", "temporal.worker", client="app:temporal", task_queue="q2")
    with pytest.raises(LoadError, match=r"several temporal\.worker entries"):
        app.workflow("app:other")(flow)


def test_workflow_with_no_worker_declared_gets_the_embedded_client_and_a_worker():
    app = App()

    @app.workflow("shop:order")
    async def order(ctx):
        return 1

    assert app.loaded.get("shop:temporal").kind == "temporal.client"
    worker = app.loaded.get("shop:worker")
    assert worker.data == {"client": "shop:temporal", "task_queue": "shop"}


def test_an_unknown_key_is_reported_once_even_when_entries_are_added(tmp_path, caplog):
    import logging

    (tmp_path / "unknown_key_mod.py").write_text("def one():\n    return 1\n")
    (tmp_path / "app.yaml").write_text(
        "namespace: app\n"
        "entries:\n"
        '  - { name: one, kind: function.py, handler: "unknown_key_mod:one", handlr: "x" }\n'
    )
    with caplog.at_level(logging.WARNING, logger="beamish"):
        app = App(tmp_path)
        app.add("app:two", "function.py", handler=lambda: 2, hadler="typo")
        assert app.run("app:one") == 1  # starting validates again
    warned = sorted(r.getMessage().split("unknown key ")[1][:8] for r in caplog.records
                    if "unknown key" in r.getMessage())
    assert warned == ["'hadler'", "'handlr'"]
