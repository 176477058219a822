"""Executables of the recipes, each run as ``python -m geolid.bin.<name>``.

lid_train, lid_inference (ESPnet entry points on GeoLIDTask); data_prep (corpus
preparation, speed perturbation, format, job splits; ``prepare`` is also
``geolid prepare``); model_check (an experiment folder is ready for inference);
merge_inference, score_lids, results_table, plot_tsne, pack_model (stages 6-9);
run_jobs (local or Slurm job arrays); make_demo_corpus (the synthetic demo corpus).
The user-facing tool is the ``geolid`` console script (:mod:`geolid.cli.main`).
"""
