"""Write score results (JSON + readable text) and build the results table.

Layout: each scored test set has a folder holding ``score.json`` (the dict of
:func:`geolid.scoring.metrics.score_lids`) and ``score.txt``. The results table
has one row per system and one column per test set, plus ``macro`` = the mean
over the test sets (docs/architecture.md#scoring).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from geolid.utils.fileio import atomic_write, read_kaldi_lines

SCORE_JSON = "score.json"
SCORE_TXT = "score.txt"


def read_label_file(path: os.PathLike | str) -> Dict[str, str]:
    """Read a Kaldi ``utt iso3`` file; malformed lines raise naming ``file:line``."""
    out: Dict[str, str] = {}
    first: Dict[str, int] = {}
    for lineno, key, rest in read_kaldi_lines(path):
        fields = rest.split()
        if len(fields) != 1:
            raise ValueError(f"{path}:{lineno}: expected 'utt label' (2 fields), got "
                             f"{1 + len(fields)} field(s): '{key} {rest}'".rstrip())
        if key in out:
            raise ValueError(f"{path}:{lineno}: duplicate utterance '{key}' (first on line "
                             f"{first[key]})")
        out[key] = fields[0]
        first[key] = lineno
    return out


def format_score_text(result: Mapping, name: str = "") -> str:
    """Human-readable summary: overall, macro, per-language table, top confusions."""
    lines = []
    if name:
        lines.append(f"# {name}")
    lines += [
        f"utterances: {result['n_utts']}  correct: {result['n_correct']}  "
        f"missing hyp: {result['n_missing']}  extra hyp (ignored): {result['n_extra']}",
        f"accuracy:       {100 * result['accuracy']:.2f}%",
        f"macro accuracy: {100 * result['macro_accuracy']:.2f}%  "
        f"({len(result['ref_labels'])} languages)",
        "overall P/R/F1: " + _prf(result["micro"])
        + f"  ({result.get('overall', 'published').replace('_', ' ')})",
        "macro P/R/F1:   " + _prf(result["macro"]),
        "",
        f"{'lang':<10} {'support':>7} {'pred':>6} {'prec':>7} {'recall':>7} {'f1':>7}",
    ]
    for lab, row in result["per_language"].items():
        lines.append(f"{lab:<10} {row['support']:>7} {row['n_predicted']:>6} "
                     f"{_pct(row['precision']):>7} {_pct(row['recall']):>7} {_pct(row['f1']):>7}")
    lines += ["", "top confusions (ref -> hyp: count):"]
    if not result["confusions"]:
        lines.append("  (none)")
    for ref, hyp, count in result["confusions"]:
        lines.append(f"  {ref} -> {hyp}: {count}")
    return "\n".join(lines) + "\n"


def _pct(x: Optional[float]) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def _prf(d: Mapping) -> str:
    return f"{_pct(d['precision'])} / {_pct(d['recall'])} / {_pct(d['f1'])}"


def write_score(result: Mapping, out_dir: os.PathLike | str, name: str = "") -> None:
    """Write ``<out_dir>/score.json`` and ``<out_dir>/score.txt`` atomically."""
    out_dir = Path(out_dir)
    with atomic_write(out_dir / SCORE_JSON) as f:
        json.dump(result, f, indent=1, sort_keys=False)
        f.write("\n")
    with atomic_write(out_dir / SCORE_TXT) as f:
        f.write(format_score_text(result, name))


def load_score(path: os.PathLike | str) -> Dict:
    """Read a ``score.json`` (file or folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / SCORE_JSON
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no score file; run `python -m geolid.bin.score_lids` "
                                f"for this test set first") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def results_table(rows: Mapping[str, Mapping[str, float]],
                  columns: Optional[Sequence[str]] = None,
                  column_names: Optional[Mapping[str, str]] = None,
                  first_header: str = "config") -> str:
    """Markdown table: systems x test sets of accuracy (fractions 0-1, shown in %
    with one decimal), plus ``macro`` = mean over the test sets. A system lacking a
    test set shows ``-`` there and its macro covers the sets it has, marked ``*``.
    """
    if columns is None:
        columns = list(dict.fromkeys(c for r in rows.values() for c in r))
    names = dict(column_names or {})
    header = [first_header] + [names.get(c, c) for c in columns] + ["macro"]
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for system, accs in rows.items():
        cells: List[str] = [system]
        have = [accs[c] for c in columns if c in accs]
        for c in columns:
            cells.append(f"{100 * accs[c]:.1f}" if c in accs else "-")
        if have:
            macro = f"{100 * sum(have) / len(have):.1f}"
            cells.append(macro if len(have) == len(columns) else macro + "*")
        else:
            cells.append("-")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def gather_scores(exp_dirs: Sequence[os.PathLike | str]) -> Dict[str, Dict[str, float]]:
    """``{system: {test_set: accuracy}}`` from ``<exp_dir>/**/<test_set>/score.json``.

    The system is the experiment folder's name; the test set is the name of the
    folder that holds ``score.json``.
    """
    rows: Dict[str, Dict[str, float]] = {}
    for exp in exp_dirs:
        exp = Path(exp)
        if not exp.is_dir():
            raise FileNotFoundError(f"{exp}: experiment folder not found")
        found = sorted(exp.rglob(SCORE_JSON))
        if not found:
            raise FileNotFoundError(f"{exp}: holds no {SCORE_JSON}; run the scoring stage first")
        accs = rows.setdefault(exp.name, {})
        for path in found:
            accs[path.parent.name] = float(load_score(path)["accuracy"])
    return rows


def write_espnet_results(score_dir: Path, results: Path, top_errors: Optional[int] = None,
                         incorrect: bool = True) -> Path:
    """The ``results`` summary of ESPnet's ``lid1`` scoring, from our ``score.json``.

    The lines of upstream's ``local/score.py``: overall and macro accuracy /
    precision / recall / F1 (definitions: :mod:`geolid.scoring.metrics`), the
    per-language metrics (sorted by code; upstream's order is that of a Python set),
    every error pair by frequency and the "Detailed Incorrect Predictions" list.
    ``top_errors`` keeps only the N most frequent pairs and ``incorrect=False``
    leaves the detailed list out (ours, for very large test sets).
    """
    score = json.loads((Path(score_dir) / "score.json").read_text(encoding="utf-8"))
    pct = lambda x: f"{100 * x:.2f}%"  # noqa: E731
    lines = [f"Overall Accuracy: {pct(score['accuracy'])}",
             f"Overall Precision: {pct(score['micro']['precision'])}",
             f"Overall Recall: {pct(score['micro']['recall'])}",
             f"Overall F1: {pct(score['micro']['f1'])}",
             "",
             f"Macro Accuracy across Languages: {pct(score['macro_accuracy'])}",
             f"Macro Precision across Languages: {pct(score['macro']['precision'])}",
             f"Macro Recall across Languages: {pct(score['macro']['recall'])}",
             f"Macro F1 across Languages: {pct(score['macro']['f1'])}",
             "", "Per-Language Metrics:"]
    for lang in score["ref_labels"]:
        row = score["per_language"][lang]
        lines += [f"{lang}:", f"  Accuracy: {pct(row['recall'])}",
                  f"  Precision: {pct(row['precision'])}", f"  Recall: {pct(row['recall'])}",
                  f"  F1: {pct(row['f1'])}"]
    errors = score.get("errors", score["confusions"])
    if top_errors is not None:
        errors = errors[:top_errors]
    if errors:
        lines += ["", "Error Frequency (Target->Prediction):"]
        lines += [f"{ref}->{hyp}: {count}" for ref, hyp, count in errors]
    if incorrect:
        lines += ["", "Detailed Incorrect Predictions:"]
        lines += [f"Key: {utt}, Target: {ref}, Prediction: {hyp}"
                  for utt, ref, hyp in score.get("incorrect", [])]
    results = Path(results)
    results.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(results) as f:
        f.write("\n".join(lines) + "\n")
    return results
