"""Form fields of ``POST /v1/audio/language`` -> :class:`PredictOptions`.

Every field is a string on the wire; each is converted here and then validated by
:class:`PredictOptions` itself (the same rules as ``geolid predict``'s flags), so
an option means the same thing at every door. A bad value is a
:class:`FieldError` naming the field (HTTP 422). Import-light (no torch).
"""
from __future__ import annotations

import re
from dataclasses import fields
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

FILE_FIELD = "file"
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


class FieldError(ValueError):
    """A form field with a value the service cannot use; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _int(name: str, v: str) -> int:
    try:
        return int(v.strip())
    except ValueError:
        raise FieldError(name, f"{name} must be an integer, got '{v}'") from None


def _float(name: str, v: str) -> float:
    try:
        return float(v.strip())
    except ValueError:
        raise FieldError(name, f"{name} must be a number, got '{v}'") from None


def _bool(name: str, v: str) -> bool:
    s = v.strip().lower()
    if s in TRUE:
        return True
    if s in FALSE:
        return False
    raise FieldError(name, f"{name} must be true or false, got '{v}'")


def _codes(name: str, v: str) -> Tuple[str, ...]:
    codes = tuple(c for c in re.split(r"[,\s]+", v.strip()) if c)
    if not codes:
        raise FieldError(name, f"{name}: the candidate list is empty")
    return codes


def _text(name: str, v: str) -> str:
    return v.strip()


# field -> (PredictOptions field, converter)
OPTION_FIELDS: Dict[str, Tuple[str, Callable[[str, str], object]]] = {
    "top_k": ("top_k", _int),
    "languages": ("languages", _codes),
    "reject_below": ("reject_below", _float),
    "reject_unknown": ("reject_unknown", _bool),
    "timeline": ("timeline", _bool),
    "near": ("near", _text),
    "budget": ("budget", _float),
}
OUTPUT_FIELDS = {"geo_vector": _bool}     # what goes into the answer, not how it is computed
FIELDS = (FILE_FIELD, *OPTION_FIELDS, *OUTPUT_FIELDS)


def option_names() -> Sequence[str]:
    from geolid.inference.options import PredictOptions

    return [f.name for f in fields(PredictOptions)]


def parse_form(form: Mapping[str, str], base=None) -> Tuple[object, Dict[str, object]]:
    """``(PredictOptions, output flags)`` from the non-file fields of a request.

    ``base``: the server's default options. Unknown fields are refused (a typo
    would otherwise be ignored silently).
    """
    from geolid.inference.options import PredictOptions

    unknown = sorted(set(form) - set(FIELDS))
    if unknown:
        raise FieldError(unknown[0], f"unknown field(s) {unknown}; fields are {list(FIELDS)}")
    overrides: Dict[str, object] = {}
    for name, (option, convert) in OPTION_FIELDS.items():
        if name not in form:
            continue
        value = convert(name, form[name])
        if option == "timeline" and value is False:
            value = None
        overrides[option] = value
    outputs = {name: convert(name, form[name]) if name in form else False
               for name, convert in OUTPUT_FIELDS.items()}
    try:
        options = PredictOptions.of(base, **overrides)
    except ValueError as e:
        raise FieldError(_field_of(str(e), overrides), str(e)) from None
    return options, outputs


def _field_of(message: str, given: Mapping[str, object]) -> Optional[str]:
    """The field a PredictOptions error names (its messages begin with the option)."""
    head = re.split(r"[\s:]", message, maxsplit=1)[0]
    if head in OPTION_FIELDS:
        return head
    if head.startswith("timeline"):
        return "timeline"
    return next(iter(given), None)


def check_for_model(options, languages: Sequence[str], has_unknown_score: bool) -> None:
    """Options that depend on the model (checked before the upload is decoded)."""
    if options.languages is not None:
        from geolid.inference.candidates import CandidateError, parse_languages

        try:
            parse_languages(options.languages, languages)
        except CandidateError as e:
            raise FieldError("languages", f"languages: {e}") from None
    if options.reject_unknown and not has_unknown_score:
        raise FieldError("reject_unknown", "reject_unknown: this model has no fitted unknown-language "
                                           "score (the recipe's stage 7 fits it); use reject_below")
