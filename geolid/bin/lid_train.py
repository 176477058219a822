#!/usr/bin/env python3
"""Train a geolocation-aware LID model: ESPnet's ``lid_train`` with ``GeoLIDTask``.

Same options as ``espnet2.bin.lid_train`` (``--config``, ``--train_data_path_and_name_and_type``,
``--ngpu``, ``--collect_stats``, ...), plus the choices geolid registers. Files
it did not write itself are read as weights only, never unpickled: ``--init_param``
files (``GeoLIDTask.build_model``) and ``checkpoint.pth`` on ``--resume``
(``geolid.tasks.trainer.GeoLIDTrainer``). A file that holds more is refused with
one line naming it and what to do (exit status 2).
"""
import sys

from geolid.tasks.checkpoint import CheckpointError
from geolid.tasks.lid import GeoLIDTask


def get_parser():
    return GeoLIDTask.get_parser()


def main(cmd=None):
    try:
        GeoLIDTask.main(cmd=cmd)
    except CheckpointError as e:
        print(f"lid_train: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
