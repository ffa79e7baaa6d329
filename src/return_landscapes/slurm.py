"""Ask SLURM, before a sweep is submitted, whether it would accept the array job.

``landscape <command> --multirun launcher=slurm ...`` hands the sweep to submitit's
SLURM launcher. A partition, account or resource request that SLURM rejects would
otherwise surface as a traceback from inside the launcher; ``sbatch --test-only`` with
the same options answers without submitting anything.
"""

from __future__ import annotations

import shutil
import subprocess

from return_landscapes.errors import LandscapeError

# hydra.launcher options (hydra-submitit-launcher's SlurmQueueConf) -> sbatch flags
SBATCH_FLAGS = {
    "partition": "--partition",
    "qos": "--qos",
    "account": "--account",
    "constraint": "--constraint",
    "exclude": "--exclude",
    "comment": "--comment",
    "gres": "--gres",
    "nodes": "--nodes",
    "tasks_per_node": "--ntasks-per-node",
    "cpus_per_task": "--cpus-per-task",
    "cpus_per_gpu": "--cpus-per-gpu",
    "gpus_per_node": "--gpus-per-node",
    "gpus_per_task": "--gpus-per-task",
    "mem_per_gpu": "--mem-per-gpu",
    "mem_per_cpu": "--mem-per-cpu",
    "timeout_min": "--time",
}


def sbatch_arguments(launcher, members: int) -> list[str]:
    """The sbatch flags submitit would use for ``members`` array tasks."""
    arguments = [
        f"{flag}={launcher[key]}"
        for key, flag in SBATCH_FLAGS.items()
        if launcher.get(key) not in (None, "", 0)
    ]
    if launcher.get("mem_gb"):
        arguments.append(f"--mem={launcher.mem_gb}GB")
    for key, value in (launcher.get("additional_parameters") or {}).items():
        arguments.append(f"--{key.replace('_', '-')}={value}")
    parallel = launcher.get("array_parallelism") or members
    arguments.append(f"--array=0-{members - 1}%{parallel}")
    return arguments


def check_sbatch_accepts(launcher, members: int) -> None:
    """Raise a one-line ``LandscapeError`` if SLURM would refuse the array job."""
    if shutil.which("sbatch") is None:
        raise LandscapeError(
            "launcher=slurm needs SLURM's sbatch on PATH: run on a cluster login node "
            "(or start one with scripts/slurm_cluster.sh start), or use launcher=local"
        )
    arguments = sbatch_arguments(launcher, members)
    done = subprocess.run(
        ["sbatch", "--test-only", *arguments, "--wrap=true"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        errors = [
            line.split("error:", 1)[1].strip()
            for line in done.stderr.splitlines()
            if "error:" in line
        ] or [done.stderr.strip() or f"exit status {done.returncode}"]
        raise LandscapeError(
            f"SLURM refuses the sweep's job ({' '.join(arguments)}): {errors[0]}; "
            "fix the hydra.launcher.* options"
        )
