# Where the corpora live. Each can be overridden from the environment, e.g.
#   VOXLINGUA107=/data/voxlingua107 ./run_voxlingua107_only.sh
# FLEURS and ML-SUPERB 2.0 can be fetched from the Hugging Face Hub into their folder
# (pass --local_data_opts "... --download true"); the others must be obtained by hand
# (Babel is licensed by the LDC).
VOXLINGUA107=${VOXLINGUA107:-downloads/voxlingua107}
FLEURS=${FLEURS:-downloads/fleurs}
ML_SUPERB2=${ML_SUPERB2:-downloads/ml_superb2}
VOXPOPULI=${VOXPOPULI:-downloads/voxpopuli}
BABEL=${BABEL:-downloads/babel}
