# geolid: `make demo` (set up + train/evaluate on synthetic speech), `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup test demo clean-demo
setup:
	@bash tools/install.sh

# `python -m pytest` (not .venv/bin/pytest): lang2vec installs a bin/lang2vec.py
# script that would shadow the package when bin/ is first on sys.path.
test: setup
	$(PY) -m pytest -q

demo: setup
	bash egs2/geolid/demo1/run.sh

clean-demo:
	rm -rf egs2/geolid/demo1/{data,dump,exp,corpus,RESULTS.md}
