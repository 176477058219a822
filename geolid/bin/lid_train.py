#!/usr/bin/env python3
"""Train a geolocation-aware LID model: ESPnet's ``lid_train`` with ``GeoLIDTask``.

Same options as ``espnet2.bin.lid_train`` (``--config``, ``--train_data_path_and_name_and_type``,
``--ngpu``, ``--collect_stats``, ...), plus the choices geolid registers.
"""
from geolid.tasks.checkpoint import install_safe_init_param
from geolid.tasks.lid import GeoLIDTask


def get_parser():
    return GeoLIDTask.get_parser()


def main(cmd=None):
    install_safe_init_param()  # --init_param files are read as weights only, never unpickled
    GeoLIDTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
