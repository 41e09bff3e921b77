"""Helpers for the launcher and fault-tolerance tests: source trees, a CLI subprocess, a kill then a rerun, dataset
equality."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable

from agibot_fixtures import make_episode

REPO = Path(__file__).resolve().parents[1]
KILLED = -signal.SIGKILL


def small_source(root: Path, lengths=(8, 6, 7)) -> Path:
    """AgiBot-layout episodes 327/20, 327/21, ... with the given frame counts (32x24, depth, poses)."""
    for i, n in enumerate(lengths):
        make_episode(root, episode=str(20 + i), n=n)
    return root


def with_bad_episodes(root: Path, good: int, cases: dict) -> dict[str, tuple[str, str]]:
    """`good` good episodes 327/g0.. and one broken episode 327/b0.. per case of `cases` (rel path, damage,
    error class, reason, as test_agibot_reader.BAD_CASES: 10-frame episodes); returns label -> (reason, file name)."""
    for i in range(good):
        make_episode(root, episode=f"g{i}", n=10)
    expected = {}
    for j, (rel, damage, _, reason) in enumerate(cases.values()):
        make_episode(root, episode=f"b{j}", n=10)
        rel = rel.replace("/bad/", f"/b{j}/")
        damage(root / rel)
        expected[f"327/b{j}"] = (reason, rel.split("/")[-1])
    return expected


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
               HF_HUB_OFFLINE="1", MUJOCO_GL=os.environ.get("MUJOCO_GL", "osmesa"))
    for key in ("EMBODIED_RERENDER_KILL_AT", "EMBODIED_RERENDER_KILL_ONCE"):
        env.pop(key, None)
    return env | extra


def run_cli(args: list[str], kill_at: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m embodied_rerender.cli ARGS` in a subprocess, killing itself at `kill_at` when given."""
    env = cli_env(**({"EMBODIED_RERENDER_KILL_AT": kill_at} if kill_at else {}))
    return subprocess.run([sys.executable, "-m", "embodied_rerender.cli", *args, "progress=false"], env=env,
                          capture_output=True, text=True, timeout=timeout)


def run_killed(args: list[str], kill_at: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`run_cli(args)` killed at `kill_at`; asserts that it died by SIGKILL (its stderr tail otherwise)."""
    killed = run_cli(args, kill_at=kill_at, timeout=timeout)
    assert killed.returncode == KILLED, killed.stderr[-2000:]
    return killed


def kill_then_rerun(args: list[str], out: Path, kill_at: str, expected: Path, staged: bool = True,
                    timeout: float = 120) -> None:
    """A run of `args` killed at `kill_at` publishes nothing at `out` (and leaves its staging directory when
    `staged`); the same command rerun in this process gives the dataset `expected` and tidies the staging away."""
    from embodied_rerender.cli import main
    from embodied_rerender.pipeline.run import staging_dir

    run_killed(args, kill_at, timeout)
    assert not out.exists() and (staging_dir(out).is_dir() or not staged)
    assert main([*args, "progress=false"]) == 0
    assert_same_dataset(out, expected)
    assert not staging_dir(out).exists()


def made_on_first_use(root: Path, make: Callable[[Path, str], None]) -> Callable[[str], Path]:
    """`get(name)` -> `root / name`, made by `make(path, name)` the first time it is asked for (a module fixture
    that builds only the outputs its tests use)."""
    made: set[str] = set()

    def get(name: str) -> Path:
        if name not in made:
            make(root / name, name)
            made.add(name)
        return root / name

    return get


def start_cli(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "embodied_rerender.cli", *args, "progress=false"], env=cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def dataset_files(root: Path) -> dict[str, object]:
    """Every file under `root` but report.json: JSON parsed (key order is not content), the rest as bytes."""
    out = {}
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file() and p.name != "report.json"):
        rel = str(path.relative_to(root))
        out[rel] = json.loads(path.read_text()) if path.suffix == ".json" else path.read_bytes()
    return out


def assert_same_dataset(a: Path, b: Path, skip_suffixes: tuple[str, ...] = ()) -> None:
    """Same files with the same content (see dataset_files) and the same report.json episode entries.
    `skip_suffixes`: files compared by name only (previews: an mp4 encoder may differ run to run)."""
    fa, fb = dataset_files(a), dataset_files(b)
    assert sorted(fa) == sorted(fb)
    differ = [k for k in fa if not k.endswith(skip_suffixes) and fa[k] != fb[k]]
    assert not differ, f"files differ: {differ[:5]}"
    ra, rb = (json.loads((Path(p) / "report.json").read_text()) for p in (a, b))
    assert ra["episodes"] == rb["episodes"]
    assert {k: v for k, v in ra["summary"].items() if k not in ("seconds", "merge_seconds")} == \
           {k: v for k, v in rb["summary"].items() if k not in ("seconds", "merge_seconds")}
