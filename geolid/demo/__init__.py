"""Synthetic speech for tests and the demo: espeak-ng via the espeakng-loader wheel.

Modules: ``espeak`` (ctypes binding: synthesize, list_voices), ``texts`` (per-language
sentences), ``demo_corpus`` (Kaldi data dirs; ``python -m geolid.synth.demo_corpus``),
``mix`` (join clips of different languages for long-audio tests).
"""
