"""`harness X` imports only the module of command X: the map that says which module registers which
command is kept true here, and the light commands are checked not to load the platform's database
stack (sqlalchemy, alembic) or pytest."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import harness.cli
from harness.cli.app import COMMAND_MODULES, cli, load_all_commands

NOT_COMMAND_MODULES = {"app", "params", "device_hold"}  # shared helpers, no commands of their own


def test_every_command_module_is_mapped_and_every_mapped_command_exists() -> None:
    modules = {m.name for m in pkgutil.iter_modules(harness.cli.__path__)} - NOT_COMMAND_MODULES
    for module in sorted(modules):
        importlib.import_module(f"harness.cli.{module}")
    load_all_commands(cli)
    assert set(cli.commands) == set(COMMAND_MODULES)
    mapped = {m for ms in COMMAND_MODULES.values() for m in ms}
    assert mapped == modules, "a command module that no command name loads (or a name for none)"
    for name, command in cli.commands.items():
        assert command.callback is not None
        defined_in = command.callback.__module__.rsplit(".", 1)[-1]
        assert defined_in in COMMAND_MODULES[name], f"`harness {name}` is defined in {defined_in}"


def _loaded_after(args: list[str]) -> tuple[int, set[str]]:
    code = ("import sys\nfrom harness.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit as exc:\n    code = exc.code\n"
            "print(code)\nprint(' '.join(m for m in ('sqlalchemy', 'alembic', 'pytest', 'httpx') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         timeout=60).stdout.splitlines()
    return int(out[-2]), set(out[-1].split())


@pytest.mark.parametrize("args", [["exec", "--help"], ["devices", "--help"], ["suites", "--help"],
                                  ["keys", "--help"], ["lab", "--help"]])
def test_a_light_command_loads_neither_the_database_stack_nor_pytest(args: list[str]) -> None:
    code, loaded = _loaded_after(args)
    assert code == 0
    assert loaded == set(), f"`harness {' '.join(args)}` loaded {sorted(loaded)}"


def test_run_loads_pytest_but_not_the_database_stack() -> None:
    code, loaded = _loaded_after(["run", "--help"])
    assert code == 0
    assert "pytest" in loaded and not loaded & {"sqlalchemy", "alembic"}


def test_the_help_still_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        harness.cli.main(["--help"])
    assert exc.value.code == 0
    listed = capsys.readouterr().out
    for name in COMMAND_MODULES:
        assert f"\n  {name} " in listed, name


def test_an_unknown_command_is_still_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        harness.cli.main(["nosuchcommand"])
    assert exc.value.code == 2
    assert "nosuchcommand" in capsys.readouterr().err
