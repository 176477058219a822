# How stages run their jobs: cmd_backend=local (this machine, jobs in parallel) or
# slurm (one sbatch job per JOB; extra options in slurm_opts / GEOLID_SLURM_OPTS).
# Each *_cmd takes Kaldi's run.pl syntax: ${cmd} [--gpu N] [JOB=1:N] LOG COMMAND...
cmd_backend=${cmd_backend:-local}
slurm_opts=${GEOLID_SLURM_OPTS:-}

case "${cmd_backend}" in
    local)
        train_cmd="python3 -m geolid.bin.run_jobs --backend local"
        cuda_cmd="python3 -m geolid.bin.run_jobs --backend local"
        decode_cmd="python3 -m geolid.bin.run_jobs --backend local"
        ;;
    slurm)
        # e.g. GEOLID_SLURM_OPTS="-p gpu --time 72:00:00"
        train_cmd="python3 -m geolid.bin.run_jobs --backend slurm --mem 16G"
        cuda_cmd="python3 -m geolid.bin.run_jobs --backend slurm --mem 64G --num_threads 8"
        decode_cmd="python3 -m geolid.bin.run_jobs --backend slurm --mem 16G"
        export GEOLID_SLURM_OPTS="${slurm_opts}"
        ;;
    *) echo "cmd.sh: unknown cmd_backend '${cmd_backend}' (local|slurm)" >&2; return 1 ;;
esac
