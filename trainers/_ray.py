"""LOPO folds as Ray tasks: ``--ray`` (a local Ray on this machine) or ``--ray ADDRESS``.

Each fold runs as one task, in a worker that rebuilds the trainer from the run's
settings exactly as ``--fold K`` would (same data, same seed per fold: ``--seed`` plus
the fold index), trains, and writes ``folds/fold_KK.json`` into the run directory. The
driver then merges them into Table 1 as after a sequential run, so the fold records and
the table are the same (up to floating-point order of operations).

Before any task starts, the driver runs the landmarker on every image once, and with an
image model the frozen backbone layers too, so that the tasks only read the cache
(``--cache`` or ``$PALSY_CACHE_DIR``): on a cluster it, the data sets, the run directory
and this repository must be at the same path on every node (a shared file system).
Cache entries and fold records are written to a unique temporary name and renamed into
place, so concurrent writers never leave a half-written file.

Ray is imported only here and only with ``--ray``; it never reaches the network: usage
statistics are off (``RAY_USAGE_STATS_ENABLED=0``) and a local Ray starts no dashboard.
A local Ray makes and uses its own authentication token; to join a cluster started with
token authentication (Ray's default for ``ray start`` since 2.59), export
``RAY_AUTH_MODE=token`` and have the cluster's token on this machine
(``~/.ray/auth_token`` or ``$RAY_AUTH_TOKEN``; the README says how).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from collections.abc import Callable

from ._run import Promotion, TrainingError

if TYPE_CHECKING:
    from ._common import Run, TrainConfig

#: ``--ray`` with no address: start a local Ray on this machine.
LOCAL = "local"
#: Environment every Ray process of a run gets (workers on other nodes too).
_QUIET_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "GLOG_minloglevel": "2"}
#: Object store of a local Ray: fold tasks return a few numbers, not tensors.
_LOCAL_OBJECT_STORE_BYTES = 128 * 1024 * 1024
_REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class RayOptions:
    """How a trainer's folds run on Ray.

    Attributes
    ----------
    address : str or None
        A running cluster (``ray start --head`` prints it, e.g. ``10.0.0.5:6379``);
        None starts a local Ray on this machine for the run and stops it after.
    num_cpus : int or None
        CPUs of a local Ray (default: all of this machine's); ignored with ``address``.
    cpus_per_fold, gpus_per_fold : float
        What one fold task reserves: Ray runs as many folds at once as these allow.
    """

    address: str | None = None
    num_cpus: int | None = None
    cpus_per_fold: float = 1.0
    gpus_per_fold: float = 0.0

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RayOptions | None:
        """The options of a trainer's command line; None without ``--ray``."""
        ray = getattr(args, "ray", None)
        if ray is None:
            return None
        return cls(address=None if ray == LOCAL else ray, num_cpus=args.ray_num_cpus,
                   cpus_per_fold=args.ray_cpus_per_fold, gpus_per_fold=args.ray_gpus_per_fold)


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ray [ADDRESS]`` and what one fold task reserves."""
    g = parser.add_argument_group("scale out (Ray; see the README)")
    g.add_argument("--ray", nargs="?", const=LOCAL, default=None, metavar="ADDRESS",
                   help="run each LOPO fold as a Ray task: alone, on a local Ray started "
                        "for this run; with an ADDRESS (host:port of 'ray start --head'), "
                        "on that cluster")
    g.add_argument("--ray-num-cpus", type=int, default=None,
                   help="CPUs of the local Ray (default: all)")
    g.add_argument("--ray-cpus-per-fold", type=float, default=1.0,
                   help="CPUs one fold task reserves")
    g.add_argument("--ray-gpus-per-fold", type=float, default=0.0,
                   help="GPUs one fold task reserves (give one with --device cuda)")


@dataclass(frozen=True)
class FoldTask:
    """What a Ray worker needs to run one fold: the run's settings with ``fold`` set (they
    name the trainer module) and the driver's working directory (relative paths resolve
    there)."""

    config: TrainConfig
    cwd: str


def run_folds_on_ray(run: Run, options: RayOptions,
                     warm: Callable[[list[str]], None] | None = None) -> list[dict]:
    """Run every fold of ``run`` as a Ray task; returns one summary per fold.

    Parameters
    ----------
    run : Run
        The driver's run (its folds, cache and settings).
    options : RayOptions
    warm : callable, optional
        ``warm(digests)`` fills the shared caches of these images (frozen backbone
        features) before the tasks start, so they only read them.
    """
    if run.config.fold is not None:
        raise TrainingError("--ray runs every fold, each as a task; drop --fold (or drop "
                            "--ray to run one fold here).")
    if not run.config.trainer:
        raise TrainingError("--ray needs the trainer's module name (parse the command line "
                            "with trainers._common.parse_args).")
    # One landmarker pass over every image, here, before the tasks start.
    folds = list(run.iter_folds(bar=False))
    if warm is not None:
        from trainers.data.cache import mirrored_digest

        digests = {d for f in folds for d in (*f.train_digests, *f.test_digests)}
        if run.mirror:
            digests |= {mirrored_digest(d) for f in folds for d in f.test_digests}
        warm(sorted(digests))
    run.store.close()
    tasks = [FoldTask(_fold_config(run, fold.index), os.getcwd()) for fold in folds]

    ray = _connect(options)
    try:
        remote = ray.remote(num_cpus=options.cpus_per_fold, num_gpus=options.gpus_per_fold,
                            max_retries=1)(_run_fold_task)
        started = time.perf_counter()
        pending = [remote.remote(task) for task in tasks]
        summaries = []
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            summary = ray.get(done[0])
            summaries.append(summary)
            if run.progress:
                print(f"fold {summary['fold']:2d} done on {summary['node']} in "
                      f"{summary['seconds']:.1f} s ({len(summaries)} of {len(tasks)}, "
                      f"{time.perf_counter() - started:.0f} s)", file=sys.stderr)
    finally:
        ray.shutdown()
    return sorted(summaries, key=lambda s: s["fold"])


def _fold_config(run: Run, fold: int) -> TrainConfig:
    """The run's settings for the task of one fold: that fold, no Ray, no promotion,
    no progress bars, and the cache as an absolute path."""
    return dataclasses.replace(run.config, fold=fold, ray=None, promotion=Promotion(),
                               progress=False, cache=run.store.cache_dir.resolve())


def _connect(options: RayOptions):
    """Start (or join) Ray with usage statistics off and, locally, no dashboard."""
    for name, value in _QUIET_ENV.items():
        os.environ.setdefault(name, value)  # read when ray is imported
    import ray

    env = {**_QUIET_ENV, "PYTHONPATH": os.pathsep.join(
        p for p in (str(_REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    common = dict(runtime_env={"env_vars": env}, configure_logging=True,
                  logging_level="error", log_to_driver=True)
    if options.address is None:
        # "local": a new Ray of our own, never one found running on this machine.
        return _init(ray, address="local", num_cpus=options.num_cpus, include_dashboard=False,
                     object_store_memory=_LOCAL_OBJECT_STORE_BYTES, **common)
    return _init(ray, address=options.address, **common)


def _init(ray, **kwargs):
    try:
        ray.init(**kwargs)
    except (ConnectionError, ValueError, RuntimeError) as error:
        address = kwargs.get("address")
        if address == "local":
            raise TrainingError(f"cannot start a local Ray: {error}") from None
        raise TrainingError(
            f"cannot reach the Ray cluster at {address}: {error}. Is 'ray start "
            "--head' running there, and is the cluster's token on this machine "
            "(~/.ray/auth_token or $RAY_AUTH_TOKEN)?") from None
    return ray


def _run_fold_task(task: FoldTask) -> dict:
    """In a Ray worker: build the trainer as ``--fold K`` would, run and record the fold."""
    os.chdir(task.cwd)
    trainer = importlib.import_module(task.config.trainer)
    run, train_fold = trainer.setup(task.config)
    try:
        (fold,) = run.iter_folds()
        record = run.run_fold(fold, train_fold)
    finally:
        run.store.close()
    return {"fold": record["fold"], "seconds": record["seconds"], "node": socket.gethostname(),
            "pid": os.getpid()}


__all__ = ["LOCAL", "FoldTask", "RayOptions", "add_ray_arguments", "run_folds_on_ray"]
