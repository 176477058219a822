"""Demo and test support; nothing here is needed to run or train a real model.

``tiny`` (a random wav2vec2 and complete toy experiment folders, instead of the
multi-GB downloads), ``espeak`` (ctypes binding to espeak-ng from the
espeakng-loader wheel: synthesize, list_voices), ``texts`` (per-language
sentences), ``corpus`` (the synthetic demo corpus as Kaldi data dirs; run it with
``python -m geolid_demo.make_corpus``) and ``mix`` (join clips of different
languages for long-audio tests).
"""
