"""The console script: sample then inspect end to end, convert, and how it refuses bad arguments."""

from __future__ import annotations

import json

import pytest

from embodied_rerender.cli import main


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "agibot"
    assert main(["sample", f"output={out}", "episodes=2", "frames=20", "width=64", "height=48", "progress=false"]) == 0
    return out


def test_sample_then_inspect_lists_both_episodes(sampled, capsys):
    capsys.readouterr()
    assert main(["inspect", f"input={sampled}", "format=json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and all(r["status"] == "ok" for r in rows)
    for row in rows:
        posed = {"head", "hand_left", "hand_right"}  # the five fisheyes have no parameter files, as in real data
        assert row["frames"] == 20 and len(row["cameras"]) == 8 and posed < set(row["cameras"])
        head = row["cameras"]["head"]
        assert (head["width"], head["height"], head["depth"]) == (64, 48, 20)
        assert all(len(row["cameras"][c]["centre_min"]) == 3 for c in posed)
        assert row["state"]["joint.position"] == [14] and row["segments"] > 0
    assert main(["inspect", f"input={sampled}"]) == 0
    table = capsys.readouterr().out
    assert table.count(" ok ") == 2 and "hand_left" in table and "camera centre range" in table


def test_arguments_are_checked(capsys):
    assert main(["inspect", "input=/nonexistent", "typo_key=1"]) == 1
    assert "typo_key" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="input=..."):
        main(["stream"])
    assert main(["--help"]) == 0 and "inspect" in capsys.readouterr().out


def test_missing_required_key_is_named(capsys):
    with pytest.raises(SystemExit, match="output=..."):
        main(["sample"])


def test_help_and_readme_come_from_the_verb_table(capsys):
    from pathlib import Path

    from embodied_rerender import cli

    assert cli.readme_table() in (Path(__file__).parents[1] / "README.md").read_text()
    assert main(["--help"]) == 0
    listing = capsys.readouterr().out
    assert all(f"  {verb.name:<12} {verb.summary}" in listing for verb in cli.VERBS.values())
    assert main(["eval", "--help"]) == 0
    text = capsys.readouterr().out
    assert "usage: embodied-rerender eval input=PATH" in text
    assert (cli.CONFIG_DIR / "table" / "heldout.yaml").read_text() in text  # eval's per-table keys
