"""Launchers: where the per-episode work of a run (`run.write_one`) happens, here or on Ray workers.

A launcher maps episode refs to report entries, yielding each entry as its episode finishes. The
driver (`run.run_episodes`) owns everything else, the manifest, the merge and the publish, so a run
gives the same dataset whichever launcher did the episodes.

`launcher=ray` starts one Ray actor per worker. Each builds its reader and (for `augment`) the
synthesizer once, so a learned model is loaded once per actor, not once per episode; a worker gets
`num_gpus_per_worker` GPUs when a learned generator runs on CUDA. Only refs and paths cross Ray: workers
read the input and write into the shared staging directory themselves, so input, output and staging
must be on a filesystem every node sees. A worker that dies (killed, out of memory) costs only its
current episode, which is retried once on a fresh worker and otherwise reported as skipped.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import DatasetError
from ..io.base import EpisodeRef
from .faults import forwarded_env
from .job import EpisodeWorker, Job
from .run import RunReport, extras_dir, run_episodes, writer_options


def run_job(job: Job, output: str | Path, launcher: str = "local", ray: dict | None = None,
            overwrite: bool = False, progress: bool = True, workers: int = 1) -> RunReport:
    """Run `job` over every episode of its input into `output` with the `local` or `ray` launcher;
    `workers` > 1 with `local`: that many processes of this machine (`processes.ProcessLauncher`)."""
    from ..io import detect_format

    job = dataclasses.replace(job, reader=job.reader or detect_format(job.input),
                              writer_options=writer_options(job.writer, output, job.writer_options))
    if job.generator is not None and job.preview_dir is None:
        job = dataclasses.replace(job, preview_dir=str(extras_dir(Path(output)) / "previews"))
    reader, writer = job.build_reader(), job.build_writer()
    if launcher == "local" and workers > 1:
        from .processes import ProcessLauncher

        return run_episodes(reader, writer, output, None, overwrite, progress, job.input,
                            launcher=ProcessLauncher(_absolute(job), workers))
    if launcher == "local":
        return run_episodes(reader, writer, output, job.build_transform(), overwrite, progress, job.input)
    if launcher == "ray":
        return run_episodes(reader, writer, output, None, overwrite, progress, job.input,
                            launcher=RayLauncher(job, RayOptions(**(ray or {}))))
    raise ValueError(f"unknown launcher {launcher!r}; use local or ray")


def launch_options(cfg) -> dict:
    """The launcher keys of a composed convert / augment config (`config.load_config`), for `run_job`."""
    from omegaconf import OmegaConf

    if cfg.launcher not in ("local", "ray"):
        raise DatasetError(f"unknown launcher={cfg.launcher}; use launcher=local or launcher=ray")
    if not isinstance(cfg.workers, int) or cfg.workers < 1:
        raise DatasetError(f"workers={cfg.workers}: use a whole number >= 1 (episodes in flight at once)")
    if cfg.launcher == "ray" and cfg.workers != 1:
        raise DatasetError(f"workers={cfg.workers} is for launcher=local; with launcher=ray set ray.num_workers")
    return {"launcher": cfg.launcher, "ray": OmegaConf.to_container(cfg.ray, resolve=True),
            "overwrite": cfg.overwrite, "progress": cfg.progress, "workers": cfg.workers}


def generator_options(cfg) -> dict:
    """The generator's option group; a top-level `checkpoint=` (a weights file or a `train` output) goes into it."""
    from omegaconf import OmegaConf

    options = OmegaConf.to_container(cfg.get(cfg.generator) or {}, resolve=True)
    if cfg.get("checkpoint"):
        if "checkpoint" not in options:
            raise DatasetError(f"checkpoint= is for generator=hybrid, learned or stream, not generator={cfg.generator}")
        options["checkpoint"] = cfg.checkpoint
    return options


def augment_job(cfg) -> Job:
    """The `augment` job of a composed augment config (configs/augment.yaml): what `embodied-rerender augment`
    runs, and what code that augments in-process (the policy benchmark's views) runs the same way."""
    from omegaconf import OmegaConf

    from .augment import OUTPUT_MODES, AugmentConfig

    targets = [cfg.targets] if isinstance(cfg.targets, str) else list(cfg.targets)
    options = {name: OmegaConf.to_container(cfg[name], resolve=True)
               for name in ("virtual_wrist", "orbit", "loop", "head_shift")}
    if cfg.output_mode not in OUTPUT_MODES:
        raise DatasetError(f"unknown output_mode={cfg.output_mode}; choose from {', '.join(OUTPUT_MODES)}")
    config = AugmentConfig(targets=targets, sources=list(cfg.sources), k=cfg.k, retrieval=cfg.retrieval, seed=cfg.seed,
                           near=cfg.near, far=cfg.far, samples=cfg.samples, preview=cfg.preview, target_options=options,
                           output_mode=cfg.output_mode, replace_camera=cfg.replace_camera,
                           merge=bool(cfg.merge), merge_threshold=float(cfg.merge_threshold))
    return Job(input=cfg.input, writer=cfg.writer, writer_options=OmegaConf.to_container(cfg[cfg.writer], resolve=True),
               reader=cfg.reader, generator=cfg.generator, device=cfg.device, augment=config,
               generator_options=generator_options(cfg))


@dataclass
class RayOptions:
    """The `ray:` config group (see configs/convert.yaml)."""

    address: str | None = None          # None: start a local Ray for this run; "auto" or "ray://host:10001": join
    num_workers: int | None = None      # None: as many as the cluster's CPUs (or GPUs) allow
    num_cpus: int | None = None         # local Ray only: CPUs it may use (None: all of this machine's)
    num_cpus_per_worker: float = 1
    num_gpus_per_worker: float | None = None  # None: 1 when device is cuda, else 0
    retries: int = 1                    # attempts after a worker died on an episode


class RayLauncher:
    """Episodes spread over Ray actors, results yielded as they complete (the driver restores the order)."""

    name = "ray"
    writes_elsewhere = True  # episodes are written in other processes (the driver may merge meanwhile)

    def __init__(self, job: Job, options: RayOptions | None = None):
        self.options = options or RayOptions()
        self.job = _absolute(job)

    def gpus_per_worker(self) -> float:
        if self.options.num_gpus_per_worker is not None:
            return self.options.num_gpus_per_worker
        return 1 if self.job.generator is not None and str(self.job.device).startswith("cuda") else 0

    def map(self, refs: list[EpisodeRef], stage: Path, keep: list[str] | None = None) -> Iterator[dict]:
        if not refs:
            return
        import ray

        started = connect(self.options)
        actors = []
        try:
            gpus = self.gpus_per_worker()
            worker_cls = ray.remote(EpisodeWorker).options(
                num_cpus=self.options.num_cpus_per_worker, num_gpus=gpus, max_restarts=0,
                runtime_env={"env_vars": worker_env()})

            def new_worker():
                actors.append(worker_cls.remote(self.job))
                return actors[-1]

            idle = _started([new_worker() for _ in range(min(self.num_workers(gpus), len(refs)))])
            yield from self._dispatch(refs, str(Path(stage).absolute()), idle, new_worker, keep)
        finally:
            for actor in actors:
                ray.kill(actor)
            if started:
                ray.shutdown()

    def _dispatch(self, refs, stage: str, idle: list, new_worker, keep=None) -> Iterator[dict]:
        """One episode in flight per worker; a worker that dies is replaced and its episode retried."""
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        pending, attempts, inflight = deque(refs), Counter(), {}

        def submit() -> None:
            while pending and idle:
                actor, ref = idle.pop(), pending.popleft()
                inflight[actor.process.remote(ref, stage, keep)] = (actor, ref)

        while pending or inflight:
            submit()
            (future,), _ = ray.wait(list(inflight), num_returns=1)
            actor, ref = inflight.pop(future)
            try:
                entry = ray.get(future)
                idle.append(actor)
            except RayActorError as err:  # the worker process is gone, and with it only this episode
                attempts[ref] += 1
                retry = attempts[ref] <= self.options.retries
                if retry:
                    pending.appendleft(ref)
                if pending:
                    idle.append(new_worker())
                if retry:
                    continue
                entry = _skipped(ref, f"worker died {attempts[ref]} times on this episode: {_reason(err)}")
            except RayTaskError as err:  # write_one catches everything; this is a bug or an unpicklable result
                idle.append(actor)
                entry = _skipped(ref, f"worker error: {_reason(err)}")
            submit()  # the freed worker gets its next episode before the caller records this one
            yield entry

    def num_workers(self, gpus: float) -> int:
        """ray.num_workers, or as many as the cluster's CPUs (and GPUs) hold; refuses a worker that fits
        nowhere, which Ray would otherwise wait for forever."""
        import ray

        total = ray.cluster_resources()
        cpus = self.options.num_cpus_per_worker
        if cpus > total.get("CPU", 0) or gpus > total.get("GPU", 0):
            raise DatasetError(f"a Ray worker asks for {cpus} CPU and {gpus} GPU but the cluster has "
                               f"{total.get('CPU', 0):g} CPU and {total.get('GPU', 0):g} GPU; set "
                               "ray.num_cpus_per_worker / ray.num_gpus_per_worker (device=cuda asks 1 GPU each)")
        if self.options.num_workers:
            return int(self.options.num_workers)
        fits = [total["CPU"] / max(cpus, 1e-6)] + ([total["GPU"] / gpus] if gpus else [])
        return max(1, int(min(fits)))


def _absolute(job: Job) -> Job:
    """`job` with every path absolute: workers may start in another directory or on another node."""
    return dataclasses.replace(job, input=str(Path(job.input).absolute()),
                               preview_dir=job.preview_dir and str(Path(job.preview_dir).absolute()))


def _started(actors: list) -> list:
    """The actors that came up. A worker that cannot start (a model that does not load, an input it cannot
    open) fails every episode the same way, so when none starts the run stops here with that reason; the
    staging directory is kept for the rerun."""
    import ray
    from ray.exceptions import RayActorError

    up, errors = [], []
    for actor in actors:
        try:
            ray.get(actor.ready.remote())
            up.append(actor)
        except RayActorError as err:
            errors.append(err)
    if not up:
        raise DatasetError(f"no Ray worker could start: {_reason(errors[0])}")
    return up


def connect(options: RayOptions) -> bool:
    """Join the Ray of `options.address`, or start a local one; True when this call started it.
    An already initialized Ray (a notebook, a test) is used as it is."""
    import ray

    if ray.is_initialized():
        return False
    if options.address:
        ray.init(address=options.address, include_dashboard=False)
    else:
        ray.init(num_cpus=options.num_cpus, include_dashboard=False)
    return True


def worker_env() -> dict[str, str]:
    """Environment for the workers: this package first on PYTHONPATH (a source checkout runs as itself on
    the workers), the offline and rendering switches, and the fault-injection variables of the tests."""
    root = str(Path(__file__).resolve().parents[2])
    paths = [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
    env = {"PYTHONPATH": os.pathsep.join(paths)}
    for key in ("MUJOCO_GL", "PYOPENGL_PLATFORM", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env | forwarded_env()


def _skipped(ref: EpisodeRef, reason: str) -> dict:
    return {"episode": ref.label, "status": "skipped", "reason": reason, "file": None}


def _reason(err: BaseException) -> str:
    """One line for a report: the exception a worker's start raised (the last line of Ray's traceback),
    otherwise the first line of Ray's message."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    return (lines[-1] if getattr(err, "actor_init_failed", False) else lines[0])[:300]


def convert(input: str | Path, output: str | Path, writer: str, reader: str | None = None,
            options: dict | None = None, overwrite: bool = False, progress: bool = True,
            launcher: str = "local", ray: dict | None = None) -> RunReport:
    """`convert`: every episode of `input` (format `reader`, detected when None) to `output` in format `writer`,
    with the `local` or `ray` launcher (`ray`: the RayOptions fields)."""
    job = Job(input=str(input), writer=writer, writer_options=options or {}, reader=reader)
    return run_job(job, output, launcher, ray, overwrite, progress)
