"""The public surface: what users import from beamish and beamish.actors."""

import beamish
import beamish.actors


def test_facade_exports_are_importable_and_pinned():
    for name in beamish.__all__:
        assert hasattr(beamish, name), name
    for name in beamish.actors.__all__:
        assert hasattr(beamish.actors, name), name
    assert {"Node", "Pid", "Context", "App", "Error", "ErrorKind"} <= set(beamish.__all__)
    assert "Unavailable" in beamish.__all__  # what App.unavailable holds


def test_public_classes_report_the_facade_module():
    assert beamish.actors.Node.__module__ == "beamish.actors"
    assert beamish.actors.Pid.__module__ == "beamish.actors"


def test_the_package_says_it_is_typed():
    from importlib.resources import files

    assert files("beamish").joinpath("py.typed").is_file()
