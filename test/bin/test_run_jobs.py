import os
import stat
import sys

from geolid.bin.run_jobs import main


def test_local_jobs_substitute_job_and_write_logs(tmp_path):
    out = tmp_path / "out"
    code = main(["--backend", "local", "JOB=1:3", str(tmp_path / "log/x.JOB.log"),
                 sys.executable, "-c", f"open(r'{out}.JOB', 'w').write('JOB')"])
    assert code == 0
    for j in (1, 2, 3):
        assert (tmp_path / f"out.{j}").read_text() == str(j)
        assert "ended (code 0)" in (tmp_path / f"log/x.{j}.log").read_text()


def test_failed_jobs_are_named(tmp_path, capsys):
    code = main(["JOB=1:2", str(tmp_path / "l.JOB.log"), sys.executable, "-c",
                 "import sys; sys.exit(int('JOB') - 1)"])
    assert code == 1
    err = capsys.readouterr().err
    assert "job 2 failed (exit 1)" in err and "l.2.log" in err and "job 1 failed" not in err


def test_single_job_without_range(tmp_path):
    assert main([str(tmp_path / "one.log"), sys.executable, "-c", "print('hello')"]) == 0
    assert "hello" in (tmp_path / "one.log").read_text()


def test_slurm_backend_submits_one_sbatch_per_job(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "sbatch"
    fake.parent.mkdir()
    # A stand-in sbatch: records its arguments and runs the --wrap command.
    fake.write_text("#!/usr/bin/env bash\necho \"$@\" >> " + str(tmp_path / "calls") + "\n"
                    "while [ $# -gt 0 ]; do if [ \"$1\" = --wrap ]; then eval \"$2\"; exit $?; fi; shift; done\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    code = main(["--backend", "slurm", "--gpu", "2", "--mem", "8G", "--slurm_opts", "-p gpu",
                 "JOB=1:2", str(tmp_path / "s.JOB.log"), sys.executable, "-c",
                 f"open(r'{tmp_path}/done.JOB', 'w').close()"])
    assert code == 0
    calls = (tmp_path / "calls").read_text().splitlines()
    assert len(calls) == 2
    assert all("--gres=gpu:2" in c and "--mem=8G" in c and "-p gpu" in c and "--wait" in c for c in calls)
    assert (tmp_path / "done.1").exists() and (tmp_path / "done.2").exists()


def test_echo_prints_short_epoch_summaries(tmp_path, capsys):
    line = ("[vm] 2026 (trainer:394) INFO: 3epoch results: [train] iter_time=0.01, loss=1.5, "
            "accuracy=0.7, time=3 s, [valid] loss=1.9, accuracy=0.6, time=1 s")
    code = main(["--echo", "epoch results", str(tmp_path / "t.log"), sys.executable, "-c",
                 f"print('noise'); print({line!r})"])
    assert code == 0
    out = capsys.readouterr().out
    assert "epoch 3: train loss=1.5 accuracy=0.7 | valid loss=1.9 accuracy=0.6" in out
    assert "noise" not in out and "noise" in (tmp_path / "t.log").read_text()
