"""LID scores from reference and hypothesis label maps (utt -> ISO 639-3).

Definitions (docs/architecture.md#scoring), by default those of the published
scorer (ESPnet ``egs2/TEMPLATE/lid1/local/score.py``):

* accuracy: correct / scored utterances (every reference utterance is scored; a
  missing hypothesis counts as an error with label ``<missing>``; the recipe's
  scorer, :mod:`geolid.bin.score_lids`, refuses missing hypotheses by default, as
  upstream does),
* macro accuracy: mean over reference languages of per-language recall,
* per-language precision / recall / F1 and their macro means over the reference
  languages (the test set's languages). Hypothesis labels outside the reference
  set (``unknown``, a language the test set lacks) count as false positives of
  that label; they get their own precision row but no recall and do not enter
  the macro means,
* overall (``micro``) precision / recall / F1, ``overall="published"``: every
  wrong hypothesis is a false positive of the label it names, whichever language
  that is (upstream counts false positives over all training languages), so
  precision = correct / hypotheses and, with no hypothesis missing,
  precision = recall = F1 = accuracy. ``overall="test_languages"`` (ours): micro
  over the test set's languages only, so a wrong label outside the test set
  lowers recall but not precision,
* every confusion pair, most frequent first (ties by ``ref->hyp``, as upstream),
  the incorrect utterances in hypothesis order, and the full confusion matrix.

The counts and P/R/F1 come from ``sklearn.metrics``; this module only fixes the label
sets (reference labels first, hypothesis-only labels after) and the report layout.
"""
from __future__ import annotations

from collections import Counter
from typing import Dict, Mapping, Optional

import numpy as np

MISSING = "<missing>"
OVERALL = ("published", "test_languages")


def score_lids(ref: Mapping[str, str], hyp: Mapping[str, str],
               top_confusions: Optional[int] = 20, overall: str = "published") -> Dict:
    """Score hypotheses against references; see the module docstring.

    ``top_confusions``: how many pairs ``confusions`` keeps (None: all; ``errors``
    always has all). ``overall``: the definition of the ``micro`` values.

    Returns a JSON-serialisable dict with keys: ``n_utts``, ``n_correct``,
    ``accuracy``, ``macro_accuracy``, ``micro`` / ``macro`` (precision, recall, f1),
    ``per_language`` (label -> precision, recall, f1, support, n_predicted),
    ``n_missing``, ``n_extra``, ``ref_labels``, ``extra_hyp_labels``, ``confusions``
    (list of [ref, hyp, count], most frequent first, ties by label) and
    ``confusion_matrix`` ({"labels": [...], "counts": [[...]]}; rows = reference,
    columns = hypothesis; reference labels first, then hypothesis-only labels),
    ``errors`` (every [ref, hyp, count]), ``incorrect`` ([utt, ref, hyp] in the
    order of ``hyp``) and ``overall`` (the definition used).
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    if overall not in OVERALL:
        raise ValueError(f"overall={overall!r}: use one of {OVERALL}")

    if not ref:
        raise ValueError("the reference is empty: nothing to score")
    utts = sorted(ref)
    y_ref = [ref[u] for u in utts]
    y_hyp = [hyp.get(u, MISSING) for u in utts]
    n_missing = sum(1 for u in utts if u not in hyp)
    n_extra = sum(1 for u in hyp if u not in ref)

    ref_labels = sorted(set(y_ref))
    extra_labels = sorted(set(y_hyp) - set(ref_labels))
    labels = ref_labels + extra_labels
    cm = confusion_matrix(y_ref, y_hyp, labels=labels)

    def prf(average=None, over=labels):
        return precision_recall_fscore_support(y_ref, y_hyp, labels=over, average=average,
                                               zero_division=0)

    precision, recall, f1, support = prf()
    predicted = cm.sum(0)
    per_lang = {}
    for i, lab in enumerate(labels):
        row = {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
               "support": int(support[i]), "n_predicted": int(predicted[i])}
        if lab in extra_labels:  # no reference utterances: recall is undefined
            row.update(recall=None, f1=None)
        per_lang[lab] = row

    n = len(utts)
    n_correct = int(np.trace(cm))
    macro_p, macro_r, macro_f, _ = prf("macro", ref_labels)
    if overall == "test_languages":
        # Micro over the reference labels only: predictions of labels outside the
        # reference set ("unknown", <missing>) have no reference class, so they count
        # against micro precision nowhere and against accuracy (= micro recall) always.
        micro_p, micro_r, micro_f, _ = prf("micro", ref_labels)
    else:
        # Published: each wrong hypothesis is a false positive of the label it names.
        n_hyp = n - n_missing
        micro_p = n_correct / n_hyp if n_hyp else 0.0
        micro_r = n_correct / n
        micro_f = 2 * micro_p * micro_r / (micro_p + micro_r) if micro_p + micro_r else 0.0

    conf = Counter((r, h) for r, h in zip(y_ref, y_hyp) if r != h)
    errors = sorted(conf.items(), key=lambda kv: (-kv[1], f"{kv[0][0]}->{kv[0][1]}"))
    confusions = errors if top_confusions is None else errors[:top_confusions]
    incorrect = [[u, ref[u], h] for u, h in hyp.items() if u in ref and h != ref[u]]

    return {
        "n_utts": n,
        "n_correct": n_correct,
        "accuracy": n_correct / n,
        "macro_accuracy": float(macro_r),
        "micro": {"precision": float(micro_p), "recall": float(micro_r), "f1": float(micro_f)},
        "macro": {"precision": float(macro_p), "recall": float(macro_r), "f1": float(macro_f)},
        "per_language": per_lang,
        "n_missing": n_missing,
        "n_extra": n_extra,
        "ref_labels": ref_labels,
        "extra_hyp_labels": extra_labels,
        "confusions": [[r, h, int(c)] for (r, h), c in confusions],
        "errors": [[r, h, int(c)] for (r, h), c in errors],
        "incorrect": incorrect,
        "overall": overall,
        "confusion_matrix": {"labels": labels, "counts": cm.tolist()},
    }

