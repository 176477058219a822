"""``geolid enroll``: add languages (or dialect centres) to a model from labelled clips.

    geolid enroll --model M --out DIR FOLDER

FOLDER holds one subfolder per ISO 639-3 code with audio clips inside
(``FOLDER/deu/*.wav``, ``FOLDER/amh/*.flac``, ...). DIR becomes a model folder that
``geolid predict --model DIR``, ``geolid languages --model DIR`` and
``GeoLID.from_pretrained(DIR)`` use. See docs/enroll.md.
"""
from __future__ import annotations

import os
import sys


def add_enroll_parser(sub) -> None:
    from geolid.inference.enroll import DEFAULT_METHOD, METHODS
    from geolid.published import DEFAULT_MODEL

    p = sub.add_parser(
        "enroll", help="add languages to a model from a few labelled clips (no training)",
        description="Enrol new languages, or extra centres for known ones (dialects), from "
                    "FOLDER/<iso3>/<clips>, and write the result as a new model folder.")
    p.add_argument("folder", metavar="FOLDER", help="one subfolder per ISO 639-3 code, with clips")
    p.add_argument("--model", default=os.environ.get("GEOLID_MODEL", DEFAULT_MODEL),
                   help="model to start from (default: $GEOLID_MODEL or %(default)s)")
    p.add_argument("--out", required=True, help="new model folder to write (must not exist or be "
                                                "empty; never the source model's folder)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    p.add_argument("--method", choices=METHODS, default=DEFAULT_METHOD,
                   help="how clips become sub-centres (default %(default)s; see docs/enroll.md)")
    p.add_argument("--reference", metavar="FOLDER",
                   help="--method offset: clips of languages the model knows (FOLDER/<iso3>/<clips>), "
                        "to cap each new language's offset where it would take them (docs/enroll.md)")
    p.add_argument("--revision", help="Hub revision of --model")
    p.add_argument("--device", help="cpu, cuda, ... (default: cuda if available)")
    p.set_defaults(func=run_enroll)


def run_enroll(args) -> int:
    from geolid.cli.predict import EXIT_OK, UsageError
    from geolid.inference.enroll import EnrollError, collect_clips

    from geolid.model.folder import check_output_folder

    check_output_folder(args.out, overwrite=args.overwrite)   # before embedding any clip
    try:
        clips = collect_clips(args.folder)
        reference = collect_clips(args.reference) if args.reference else None
        from geolid.inference.api import GeoLID  # torch + ESPnet: only once the folder is good

        lid = GeoLID.from_pretrained(args.model, device=args.device, dtype="float32",
                                     revision=args.revision)
        summary = lid.enroll(clips, method=args.method, reference=reference)
        out = lid.save(args.out, overwrite=args.overwrite)
    except EnrollError as e:
        raise UsageError(str(e)) from None
    for code, s in summary.items():
        what = "new language" if s["new"] else "extra centres for a known language"
        loc = s.get("location")
        where = f"URIEL location {loc[0]:.2f}, {loc[1]:.2f}" if loc else "no URIEL location"
        print(f"{code}: {what}, {s['clips']} clip(s) -> {s['centres']} centre(s), {where}",
              file=sys.stderr)
    print(f"geolid enroll: {len(lid.languages)} languages; model written to {out}", file=sys.stderr)
    print(out)
    return EXIT_OK
