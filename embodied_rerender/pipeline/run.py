"""Runs over many episodes: read -> (transform) -> write, atomic and resumable, with a report.

Staging layout beside the output (never where a reader of the output would look):

    <parent>/.<name>.staging/
        episodes/<label>/          one finished episode each (the writer's own format); a source episode
                                   that makes several (augment output_mode=episodes) holds one
                                   directory per written episode, `<label>/<label>__<name>/`
        episodes/.tmp-<label>-<id>/   an episode being written; ignored (and removed) if its worker dies
        manifest.jsonl             one line per finished episode: the resume record
        extra/                     side outputs (previews), moved to the output root at the end
        merged/                    the joined dataset while it is being built

A killed run leaves only the staging directory; a rerun skips every episode in the manifest, writes
the rest, merges, writes report.json and renames `merged/` to the output path in one step.
Episodes are written by a launcher (launch.py: here, or on Ray workers sharing the staging directory);
only the driver, this module, appends to the manifest, merges and publishes.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from ..episode import Episode
from ..errors import DatasetError, EpisodeError
from ..io.base import EpisodeRef, Reader, Writer
from .conform import check_finite, conform_cameras, merge_skipping, restrict_cameras
from .early_merge import EarlyMerge
from .faults import kill_point
from .outputs import REPORT, check_output, confined


@dataclass
class RunReport:
    """What a run did with every episode; `as_dict()` is report.json."""

    input: str
    output: str
    reader: str
    writer: str
    episodes: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    merge_seconds: float = 0.0  # of `seconds`: joining the staged episodes into the dataset

    @property
    def skipped(self) -> list[dict]:
        return [e for e in self.episodes if e["status"] == "skipped"]

    @property
    def written(self) -> list[dict]:
        return [e for e in self.episodes if e["status"] == "written"]

    def as_dict(self) -> dict:
        return {"input": self.input, "output": self.output, "reader": self.reader, "writer": self.writer,
                "summary": {"episodes": len(self.episodes), "written": len(self.written), "skipped": len(self.skipped),
                            "frames": sum(e.get("frames", 0) for e in self.written), "seconds": round(self.seconds, 2),
                            "merge_seconds": round(self.merge_seconds, 2)},
                "episodes": self.episodes}

    def skip_lines(self) -> list[str]:
        """One line per skipped episode: label, reason, file."""
        return [f"  skipped {e['episode']}: {e['reason']}" + (f" ({e['file']})" if e.get("file") else "") for e in self.skipped]

    def summary_line(self) -> str:
        d = self.as_dict()["summary"]
        synthetic = sum(1 for e in self.written if e.get("synthetic"))
        kinds = f"{d['written'] - synthetic} recorded + {synthetic} synthetic, " if synthetic else ""
        return (f"{d['written']} episodes written ({kinds}{d['frames']} frames), {d['skipped']} skipped, "
                f"{d['seconds']:.1f} s -> {self.output}")


def staging_dir(output: Path) -> Path:
    return output.parent / f".{output.name}.staging"


def extras_dir(output: Path) -> Path:
    """Where a run's side outputs (previews) are staged; their contents land at the output root."""
    return staging_dir(Path(output)) / "extra"


def _dir_name(ref: EpisodeRef) -> str:
    return ref.label.replace("/", "__")


def _output_dirs(stage: Path, ref: EpisodeRef, entry: dict) -> list[tuple[str, Path]]:
    """(label, writer directory) of every episode a finished source episode wrote: itself, or, when its
    transform made several (`entry["outputs"]`), one subdirectory each."""
    base = stage / "episodes" / _dir_name(ref)
    if "outputs" not in entry:
        return [(ref.label, base)]
    return [(o["episode"], confined(base, base / o["dir"])) for o in entry["outputs"]]


def _report_entries(refs: list[EpisodeRef], results: dict[str, dict], misfits: dict[str, dict]) -> list[dict]:
    """report.json's entries in input order: one per written episode (a source episode's several outputs
    each get one) or skipped one; `misfits` replaces the entry of an output the dataset could not take."""
    out = []
    for ref in refs:
        entry = results[ref.label]
        if entry["status"] != "written" or "outputs" not in entry:
            out.append(misfits.get(ref.label, entry))
            continue
        for o in entry["outputs"]:
            out.append(misfits.get(o["episode"], {k: v for k, v in o.items() if k != "dir"}))
    return out


def _read_manifest(path: Path) -> dict[str, dict]:
    done = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut by a kill: that episode is simply written again
            done[entry["episode"]] = entry
    return done


def _append_manifest(path: Path, entry: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")
        f.flush()
        os.fsync(f.fileno())


def run_episodes(
    reader: Reader,
    writer: Writer,
    output: str | Path,
    transform: Callable[[Episode], tuple[Episode, dict]] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    input_name: str = "",
    launcher=None,
) -> RunReport:
    """Read every episode, apply `transform` (returns the episode and extra report fields), write, merge.

    `launcher` runs the per-episode work (`write_one`): None means here, in this process, with `reader`,
    `writer` and `transform`; a `RayLauncher` spreads it over Ray workers that build their own. Either way
    this process alone keeps the manifest, merges and publishes, so the output is the same.
    One bad episode is reported and skipped; the run goes on. The output appears only when complete.
    """
    output = check_output(output, overwrite, input_name or None)
    launcher = launcher or LocalLauncher(reader, writer, transform)
    stage = staging_dir(output)
    (stage / "episodes").mkdir(parents=True, exist_ok=True)
    try:
        report = _run(reader, writer, output, stage, launcher, progress, input_name)
    except BaseException:
        _tidy_failed(stage)
        raise
    shutil.rmtree(stage, ignore_errors=True)
    return report


def _run(reader: Reader, writer: Writer, output: Path, stage: Path, launcher, progress: bool, input_name) -> RunReport:
    from tqdm import tqdm

    manifest_path = stage / "manifest.jsonl"
    done = _read_manifest(manifest_path)
    report = RunReport(str(input_name), str(output), reader.name, writer.name)
    start = time.perf_counter()

    refs = reader.refs()
    finished = {r.label for r in refs if r.label in done and (stage / "episodes" / _dir_name(r)).is_dir()}
    if finished and hasattr(writer, "adopt"):
        first = next(r for r in refs if r.label in finished)
        writer.adopt(_output_dirs(stage, first, done[first.label])[0][1])
    results = {label: done[label] for label in finished}
    todo = [r for r in refs if r.label not in finished]
    early = EarlyMerge(writer, refs, stage / "merged", lambda r, e: _output_dirs(stage, r, e)) \
        if _merges_early(writer, launcher) else None

    def record(entry: dict) -> None:
        if entry["status"] == "written":
            kill_point("manifest")
            _append_manifest(manifest_path, entry)
            kill_point("appended")
        results[entry["episode"]] = entry
        if early is not None:
            early.offer(results)

    def rewrite(redo: list[EpisodeRef], keep: list[str]) -> None:
        if early is not None:
            early.invalidate()
        for entry in launcher.map(redo, stage, keep):
            record(entry)

    if early is not None:
        early.offer(results)  # the episodes a resumed run finished before
    try:
        with tqdm(total=len(refs), initial=len(finished), desc=f"{writer.name}", unit="episode",
                  disable=not progress) as bar:
            for entry in launcher.map(todo, stage):
                record(entry)
                bar.update()
        conform_cameras(refs, results, rewrite)
        return _merge_and_publish(reader, writer, output, stage, refs, results, early, report, start)
    except BaseException:
        if early is not None:
            early.finish([])  # stops its thread and removes what it copied
        raise


def _merge_and_publish(reader: Reader, writer: Writer, output: Path, stage: Path, refs: list[EpisodeRef],
                       results: dict[str, dict], early: EarlyMerge | None, report: RunReport,
                       start: float) -> RunReport:
    """Merge the written episodes that fit one dataset (or take the early merge when it holds exactly them),
    write report.json and publish the output."""
    misfits: dict[str, dict] = {}
    written = _conforming(writer, stage, refs, results, misfits)
    if not written:
        reasons = "; ".join(f"{e['episode']}: {e['reason']}" + (f" ({e['file']})" if e.get("file") else "")
                            for e in list(results.values())[:3]) or "no episodes found"
        raise DatasetError(f"no episode could be written ({len(refs)} found, {len(reader.problems)} unreadable; "
                           f"{reasons}); nothing published")
    merged = stage / "merged"
    if early is None:
        shutil.rmtree(merged, ignore_errors=True)  # a merge cut short by a kill is redone from the episodes
    kill_point("merge")
    labels = {path: label for label, path in written}
    merge_start = time.perf_counter()
    if early is None or not early.finish([path for _, path in written]):
        for path, why in merge_skipping(writer, [path for _, path in written], merged):
            misfits[labels[path]] = {"episode": labels[path], "status": "skipped", "reason": why.reason,
                                     "file": why.path}
    report.merge_seconds = time.perf_counter() - merge_start
    report.episodes = _report_entries(refs, results, misfits)
    report.episodes += [{"episode": p.episode, "status": "skipped", "reason": p.reason, "file": p.path}
                        for p in reader.problems]
    extra = extras_dir(output)
    if extra.is_dir():
        for item in sorted(extra.iterdir()):
            os.replace(item, confined(merged, merged / item.name))
    report.seconds = time.perf_counter() - start
    (merged / REPORT).write_text(json.dumps(report.as_dict(), indent=1))
    kill_point("publish")
    _publish(merged, output)
    return report


def _merges_early(writer: Writer, launcher) -> bool:
    """Merge while episodes are still written: only when other processes write them (here, the copy would
    compete with the episode work for this interpreter) and the writer merges one episode at a time."""
    return hasattr(writer, "merge_session") and getattr(launcher, "writes_elsewhere", False)


def _tidy_failed(stage: Path) -> None:
    """After a run failed: what a rerun could trip over goes (a half merge, half-written episodes); finished
    episodes and their manifest stay for the rerun, and a staging with none of them goes entirely."""
    shutil.rmtree(stage / "merged", ignore_errors=True)
    episodes = stage / "episodes"
    for tmp in episodes.glob(".tmp-*") if episodes.is_dir() else []:
        shutil.rmtree(tmp, ignore_errors=True)
    if not _read_manifest(stage / "manifest.jsonl"):
        shutil.rmtree(stage, ignore_errors=True)


def _conforming(writer: Writer, stage: Path, refs: list[EpisodeRef], results: dict[str, dict],
                misfits: dict[str, dict]) -> list[tuple[str, Path]]:
    """The labels and directories of the written episodes, in order, that fit one dataset. Workers each had
    their own writer, so a writer that holds one schema (LeRobot) checks them here against the most common
    schema, as it would have while writing; a misfit becomes a skipped entry in `misfits`, by its label."""
    dirs = []
    for ref in refs:
        if results[ref.label]["status"] == "written":
            dirs += _output_dirs(stage, ref, results[ref.label])
    if hasattr(writer, "conforms") and dirs:
        if hasattr(writer, "reference"):
            # The schema is the recorded episodes' (a synthetic copy's codec never outvotes its source).
            recorded = {ref.label for ref in refs}
            writer.reference([path for label, path in dirs if label in recorded] or [path for _, path in dirs])
        kept = []
        for label, path in dirs:
            try:
                writer.conforms(path)
            except EpisodeError as err:
                misfits[label] = {"episode": label, "status": "skipped", "reason": err.reason, "file": err.path}
                continue
            kept.append((label, path))
        dirs = kept
    return dirs


def write_one(reader: Reader, writer: Writer, ref: EpisodeRef, stage: Path,
              transform: Callable[[Episode], tuple[Episode | list[tuple[str, Episode]], dict]] | None = None,
              keep: list[str] | None = None) -> dict:
    """Read, transform and write one episode into `stage/episodes/<label>/`; returns its report entry.

    The episode is written under a temporary name unique to this call and renamed when complete, so
    several workers can share one staging directory and a killed worker leaves nothing that counts.
    A transform may return several episodes, `[(suffix, Episode), ...]` (suffix "" for the source itself):
    each is written to `<label>/<label><suffix>/`, all in the one rename, and listed in the entry's `outputs`
    as `<label><suffix>`, so they are finished, resumed and reported together.
    `keep`: the only cameras to write (the run's common camera set), the others dropped and listed.
    A bad episode (any exception) becomes a "skipped" entry naming the reason and, when known, the file.
    """
    final = confined(stage / "episodes", stage / "episodes" / _dir_name(ref))
    tmp = stage / "episodes" / f".tmp-{_dir_name(ref)}-{uuid.uuid4().hex[:12]}"
    try:
        episode = reader.read(ref)
        extra = {}
        if transform is not None:
            episode, extra = transform(episode)
        several = not isinstance(episode, Episode)
        outputs = list(episode) if several else [("", episode)]
        dropped = [restrict_cameras(each, keep)[1] for _, each in outputs][0]  # the same for every output
        for _, each in outputs:
            check_finite(each)
        if dropped:
            extra["dropped_cameras"] = dropped
        episode = outputs[0][1]
        kill_point("read")
        kill_point("write")
        if several:
            infos = _write_several(writer, ref, outputs, tmp)
        else:
            info = writer.write_episode(episode, tmp)
    except EpisodeError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        err = err.with_episode(ref.label)
        return {"episode": ref.label, "status": "skipped", "reason": err.reason, "file": err.path}
    except Exception as err:  # noqa: BLE001 - one bad episode never ends a run
        shutil.rmtree(tmp, ignore_errors=True)
        return {"episode": ref.label, "status": "skipped", "reason": f"{type(err).__name__}: {err}", "file": None}
    kill_point("rename")
    if final.exists():  # left by a run killed before its manifest line: not finished as far as we know
        shutil.rmtree(final)
    os.replace(tmp, final)
    # The run's own fields last: a writer's info may hold keys of the same name (its "episode" record).
    if several:
        infos[0] = {**infos[0], **extra, "camera_set": sorted(episode.cameras)}
        return {"episode": ref.label, "status": "written", "camera_set": sorted(episode.cameras),
                "frames": sum(o["frames"] for o in infos), "outputs": infos}
    return {**{k: v for k, v in info.items() if k != "frames"}, **extra, "camera_set": sorted(episode.cameras),
            "episode": ref.label, "status": "written", "frames": int(info.get("frames", 0))}


def _write_several(writer: Writer, ref: EpisodeRef, outputs: list[tuple[str, Episode]], tmp: Path) -> list[dict]:
    """Write each `(suffix, Episode)` to `tmp/<dir><suffix>/`; their report entries (label, dir, frames,
    the writer's info, and `synthetic`/`source_episode` for an episode that is not the recorded one)."""
    from ..io.base import is_safe_id

    tmp.mkdir(parents=True)
    infos = []
    for suffix, each in outputs:
        name = _dir_name(ref) + suffix
        if not is_safe_id(name):
            raise EpisodeError(f"unusable name {name!r} for an extra episode", episode=ref.label)
        info = writer.write_episode(each, confined(tmp, tmp / name))
        entry = {**{k: v for k, v in info.items() if k != "frames"}, "episode": ref.label + suffix, "dir": name,
                 "status": "written", "frames": int(info.get("frames", 0))}
        if suffix:
            entry.update(source_episode=ref.label, synthetic=each.metadata.get("synthetic"))
        infos.append(entry)
    return infos


def _publish(merged: Path, output: Path) -> None:
    """Put `merged` at `output` by rename; an existing output is moved aside first and removed after."""
    if output.exists():
        os.replace(output, output.parent / f".{output.name}.old-{os.getpid()}")
        kill_point("swap")
    os.replace(merged, output)
    # This output's asides: the one just made, and any left by a run killed between the two renames.
    for stale in output.parent.glob(f".{output.name}.old-*"):
        shutil.rmtree(stale, ignore_errors=True)


def writer_options(writer: str, output: str | Path, options: dict) -> dict:
    """The writer's options with defaults that depend on the output (LeRobot's repo_id from its name)."""
    options = dict(options)
    if writer == "lerobot" and not options.get("repo_id"):
        options["repo_id"] = f"embodied-rerender/{Path(output).name}"
    return options


class LocalLauncher:
    """Every episode in this process, in order.

    Each episode gets a fresh copy of the writer as it was given, as on a Ray worker: a writer that holds one
    schema (LeRobot) would otherwise refuse an episode for differing from the first one written, before the
    driver could bring them all to their common camera set (`conform.conform_cameras`).
    """

    name = "local"
    writes_elsewhere = False  # episodes are written by this interpreter: an early merge would compete with them

    def __init__(self, reader, writer, transform=None):
        self.reader, self.writer, self.transform = reader, copy.deepcopy(writer), transform

    def map(self, refs: list[EpisodeRef], stage: Path, keep: list[str] | None = None) -> Iterator[dict]:
        """`keep`: write only these cameras (see `write_one`)."""
        for ref in refs:
            yield write_one(self.reader, copy.deepcopy(self.writer), ref, stage, self.transform, keep)
