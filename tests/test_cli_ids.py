"""An id on the command line that no row can have is argparse's one-line error (exit 2),
never a traceback from the database driver (a 23-digit id once made one)."""

from __future__ import annotations

import pytest

from eldercare.cli import main

COMMANDS = [
    ["duty", "rotation", "remove"],
    ["duty", "override", "remove"],
    ["residents", "export"],
    ["residents", "erase"],
    ["tokens", "revoke"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("99999999999999999999999", "an id is from 1 to 9223372036854775807"),
        ("0", "an id is from 1 to"),
        ("-4", "an id is from 1 to"),
        ("seven", "not an id: 'seven'"),
    ],
)
def test_an_impossible_id_is_one_line_and_exit_2(
    command: list[str], value: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--", value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err
