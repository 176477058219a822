#!/usr/bin/env python3
"""Run an array of jobs locally or on Slurm, with Kaldi's ``run.pl`` calling syntax.

    python -m geolid.bin.run_jobs [--backend local|slurm] [--gpu N] [--num_threads N]
        [--mem 4G] [--num_nodes N] [--max_jobs_run N] [--slurm_opts "..."]
        [JOB=1:N] LOGFILE COMMAND [ARGS...]

ESPnet recipes call ``${train_cmd} JOB=1:N log.JOB.log cmd ... JOB ...``; the
recipe here needs no Kaldi tools, so this small runner stands in for ``run.pl`` /
``slurm.pl``. Every ``JOB`` in the log path and the arguments is replaced by the
job number. Each job's stdout and stderr go to its log; on failure the runner
names the failed jobs and their logs and exits non-zero. The command runs
without a shell (arguments are passed as given).
"""
# Why our own runner rather than submitit or Ray: lid.sh and every ESPnet recipe call
# ``${cmd} [--gpu N] JOB=1:N log.JOB.log COMMAND`` (Kaldi's run.pl/slurm.pl syntax) on
# shell commands, logs per job, exit status per array. submitit and Ray schedule Python
# callables and would need a shim with this same syntax in front of them, plus a heavy
# dependency for what is here one subprocess (or one `sbatch --wait`) per job.
from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Optional, Sequence

JOB_RANGE = re.compile(r"^([A-Za-z_]\w*)=(\d+):(\d+)$")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=("local", "slurm"), default=os.environ.get("GEOLID_BACKEND", "local"))
    p.add_argument("--gpu", type=int, default=0, help="GPUs per job (Slurm: --gres=gpu:N)")
    p.add_argument("--num_threads", type=int, default=None,
                   help="CPU threads per job (default: the cores shared among the jobs run at once)")
    p.add_argument("--mem", default=None, help="memory per job, Slurm syntax (e.g. 16G)")
    p.add_argument("--num_nodes", type=int, default=1, help="nodes per job (Slurm)")
    p.add_argument("--max_jobs_run", type=int, default=None, help="local: jobs run at once")
    p.add_argument("--echo", default=None, metavar="REGEX",
                   help="local: also print log lines matching REGEX (ESPnet epoch summaries are shortened)")
    p.add_argument("--slurm_opts", default=os.environ.get("GEOLID_SLURM_OPTS", ""),
                   help="extra sbatch options, e.g. '-p gpu --time 48:00:00'")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def parse_rest(rest: Sequence[str]):
    """Split ``[JOB=1:N] LOG CMD...`` into (var, first, last, log, cmd)."""
    rest = list(rest)
    var, first, last = None, 1, 1
    if rest and JOB_RANGE.match(rest[0]):
        var, first, last = JOB_RANGE.match(rest.pop(0)).groups()
        first, last = int(first), int(last)
        if last < first:
            raise SystemExit(f"run_jobs: empty job range {var}={first}:{last}")
    if len(rest) < 2:
        raise SystemExit("run_jobs: usage: run_jobs [JOB=1:N] LOGFILE COMMAND [ARGS...]")
    return var, first, last, rest[0], rest[1:]


def substitute(text: str, var: Optional[str], job: int) -> str:
    return re.sub(rf"\b{var}\b", str(job), text) if var else text


EPOCH_RE = re.compile(r"(\d+)epoch results: \[train\](.*?)\[valid\](.*)")


def shorten(line: str) -> str:
    """ESPnet's epoch summary in one short line: loss and accuracy, train and valid."""
    m = EPOCH_RE.search(line)
    if not m:
        return line.rstrip()[:200]

    def pick(part: str) -> str:
        vals = dict(re.findall(r"(\w+)=([-\d.e+]+)", part))
        return " ".join(f"{k}={vals[k]}" for k in ("loss", "accuracy") if k in vals)

    return f"  epoch {m.group(1)}: train {pick(m.group(2))} | valid {pick(m.group(3))}"


def run_local(cmd: List[str], log: Path, num_threads: Optional[int], echo: Optional[str] = None) -> int:
    env = dict(os.environ)
    if num_threads:  # parallel jobs must not each start one thread per core
        env.update(OMP_NUM_THREADS=str(num_threads), MKL_NUM_THREADS=str(num_threads))
    with open(log, "w", encoding="utf-8") as f:
        f.write(f"# {shlex.join(cmd)}\n# started at {time.ctime()}\n")
        f.flush()
        start = time.time()
        if echo is None:
            rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
        else:
            pattern = re.compile(echo)
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                                    text=True, errors="replace")
            for line in proc.stdout:
                f.write(line)
                if pattern.search(line):
                    print(shorten(line), flush=True)
            rc = proc.wait()
        f.write(f"# ended (code {rc}) at {time.ctime()}, elapsed {time.time() - start:.0f} s\n")
    return rc


def run_slurm(cmd: List[str], log: Path, args: argparse.Namespace, name: str) -> int:
    if shutil.which("sbatch") is None:
        raise SystemExit("run_jobs: --backend slurm needs `sbatch` on PATH (set cmd_backend=local in cmd.sh)")
    sbatch = ["sbatch", "--wait", "--parsable", f"--job-name={name}", f"--output={log}",
              f"--cpus-per-task={args.num_threads or 1}", f"--nodes={args.num_nodes}"]
    if args.gpu > 0:
        sbatch.append(f"--gres=gpu:{args.gpu}")
    if args.mem:
        sbatch.append(f"--mem={args.mem}")
    sbatch += shlex.split(args.slurm_opts)
    sbatch += ["--wrap", shlex.join(cmd)]
    return subprocess.call(sbatch, stdout=subprocess.DEVNULL)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = get_parser().parse_args(argv)
    var, first, last, log_pattern, cmd_pattern = parse_rest(args.rest)
    jobs = list(range(first, last + 1))

    def one(job: int) -> int:
        log = Path(substitute(log_pattern, var, job))
        log.parent.mkdir(parents=True, exist_ok=True)
        cmd = [substitute(a, var, job) for a in cmd_pattern]
        if args.backend == "local":
            return run_local(cmd, log, args.num_threads, args.echo)
        return run_slurm(cmd, log, args, name=f"{Path(cmd[0]).name}.{job}")

    workers = args.max_jobs_run or len(jobs)
    if args.num_threads is None and args.backend == "local" and min(workers, len(jobs)) > 1:
        args.num_threads = max(1, (os.cpu_count() or 1) // min(workers, len(jobs)))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        codes = list(pool.map(one, jobs))
    failed = [(j, c) for j, c in zip(jobs, codes) if c != 0]
    if failed:
        for job, code in failed:
            print(f"run_jobs: job {job} failed (exit {code}); see {substitute(log_pattern, var, job)}",
                  file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
