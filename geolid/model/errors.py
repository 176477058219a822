"""Problems with a model's files, as one-line messages (the CLI exits 2).

A damaged or mismatched model is the user's to fix, not a bug to debug, so its
message names the file and what is wrong in one line; the CLI shows the
details (key lists, the original exception) with ``-v``.

Top-level config keys are checked against :data:`TRAIN_CONFIG_KEYS`, the keys
``lid_train`` accepts. The list is static so that inference does not import
``espnet2.tasks`` (15-20 s) to get it; ``test/inference/test_config_keys.py``
compares it with the training parser, so it cannot drift unnoticed.

Import-light: no torch at import time.
"""
from __future__ import annotations

import contextlib
import difflib
import os
from typing import Iterator, Mapping

# `geolid.bin.lid_train --help` destinations (GeoLIDTask.get_parser(), which also accepts the
# published spelling language_upsampling_factor) ...
_PARSER_KEYS = """
accum_grad adapter adapter_conf allow_multi_rates allow_variable_data_keys batch_bins batch_size
batch_type best_model_criterion category_sample_size category_upsampling_factor chunk_default_fs
chunk_discard_short_samples chunk_excluded_key_prefixes chunk_length chunk_max_abs_length
chunk_shift_ratio collect_stats config create_graph_in_tensorboard cudnn_benchmark
cudnn_deterministic cudnn_enabled dataset_scaling_factor dataset_upsampling_factor ddp_comm_hook
deepspeed_config detect_anomaly dist_backend dist_init_method dist_launcher dist_master_addr
dist_master_port dist_rank dist_world_size drop_last_iter dry_run early_stopping_criterion encoder
encoder_condition encoder_condition_conf encoder_conf exclude_weight_decay exclude_weight_decay_conf
fold_length freeze_param frontend frontend_conf grad_clip grad_clip_type grad_noise
gradient_as_bucket_view ignore_init_mismatch init init_param input_size iterator_type
keep_nbest_models lang2utt lang_num language_upsampling_factor local_rank log_interval log_level loss loss_conf max_batch_size
max_cache_fd max_cache_size max_epoch min_batch_size model model_conf multi_task_dataset
multiple_iterator multiprocessing_distributed nbest_averaging_interval ngpu no_forward_run normalize
normalize_conf num_att_plot num_cache_chunks num_eval num_iters_per_epoch num_workers optim
optim_conf output_dir patience pooling pooling_condition pooling_condition_conf pooling_conf
preprocessor preprocessor_conf pretrain_path print_config projector projector_condition
projector_condition_conf projector_conf resume rir_scp sample_rate save_strategy scheduler
scheduler_conf seed sharded_ddp shuffle_within_batch sort_batch sort_in_batch specaug specaug_conf
target_duration train_data_path_and_name_and_type train_dtype train_shape_file unused_parameters
upsampling_factor use_adapter use_amp use_deepspeed use_matplotlib use_preprocessor use_tensorboard
use_tf32 use_wandb val_scheduler_criterion valid_batch_bins valid_batch_size valid_batch_type
valid_data_path_and_name_and_type valid_iterator_type valid_max_cache_size valid_shape_file
wandb_entity wandb_id wandb_model_log_interval wandb_name wandb_project write_collected_feats
""".split()
# ... plus what ESPnet adds when it writes config.yaml (not options)
ESPNET_WRITES = frozenset({"required", "version", "distributed"})
TRAIN_CONFIG_KEYS = frozenset(_PARSER_KEYS) | ESPNET_WRITES


class ModelNotFoundError(FileNotFoundError):
    """No usable model where the user pointed; the message says how to get one."""


class ModelError(ValueError):
    """A model that cannot be used as it is; ``str()`` is one line, ``details`` the rest."""

    def __init__(self, message: str, details: str = ""):
        lines = str(message).strip().splitlines() or [""]
        more = "\n".join(lines[1:] + ([details] if details else [])).strip()
        super().__init__(lines[0] + (" (details with -v)" if more else ""))
        self.details = more


def check_config_keys(conf: Mapping, config_path: os.PathLike) -> None:
    """Reject top-level keys that ``lid_train`` would not accept (typos such as ``lang_nmu``)."""
    unknown = sorted(k for k in conf if k not in TRAIN_CONFIG_KEYS)
    if not unknown:
        return
    hints = []
    for k in unknown:
        close = difflib.get_close_matches(str(k), TRAIN_CONFIG_KEYS, n=1)
        if close:
            hints.append(f"'{k}' -> '{close[0]}'?")
    raise ModelError(f"{config_path}: unknown top-level key(s) {unknown}"
                     + (f" (did you mean {', '.join(hints)})" if hints else "")
                     + "; lid_train would reject it: fix or remove it")


def read_config(path: os.PathLike) -> dict:
    """A config.yaml as a dict; invalid YAML or a non-mapping is a :class:`ModelError`."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            conf = yaml.safe_load(f)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ModelError(f"{path}: invalid YAML{at}: {problem}", str(e)) from None
    if conf is None:
        return {}
    if not isinstance(conf, dict):
        raise ModelError(f"{path}: expected a mapping of config keys, got a {type(conf).__name__}")
    return conf


@contextlib.contextmanager
def loading(model_file: os.PathLike) -> Iterator[None]:
    """Turn any failure to build or load the model into a one-line :class:`ModelError`."""
    from geolid.tasks.build import CheckpointMismatchError, ConfigError
    from geolid.tasks.checkpoint import CheckpointError

    try:
        yield
    except ModelError:
        raise
    except CheckpointError as e:  # unsafe (code in the pickle), truncated, not a state dict
        raise ModelError(str(e)) from e
    except CheckpointMismatchError as e:
        raise ModelError(str(e)) from e
    except ConfigError as e:
        raise ModelError(str(e)) from e
    except MemoryError:
        raise
    except Exception as e:  # truncated zip, bad pickle, wrong tensor types, ...
        first = (str(e).strip().splitlines() or [""])[0]
        raise ModelError(f"cannot load {model_file}: {type(e).__name__}: {first}; the file is "
                         "damaged or not a geolid/ESPnet checkpoint (download or copy it again)",
                         str(e)) from e


def check_finite_weights(model, model_file: os.PathLike) -> None:
    """NaN/inf weights (a damaged file, a diverged run) fail here, not deep in decoding."""
    import torch

    def has_nonfinite(t) -> bool:
        # A NaN/inf makes the sum non-finite; the sum is ~20x cheaper than isfinite().all()
        # on CPU (0.3 s vs 5.8 s per 1e8 weights here), which matters for 1B-weight models.
        # An overflowing sum of finite weights is re-checked exactly.
        return not bool(torch.isfinite(t.sum())) and not bool(torch.isfinite(t).all())

    bad = [name for name, t in model.state_dict().items()
           if t.is_floating_point() and t.numel() and has_nonfinite(t)]
    if bad:
        raise ModelError(f"{model_file}: weights contain NaN/inf in {len(bad)} tensor(s) "
                         f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}); the checkpoint "
                         "is damaged or comes from a diverged training run", "\n".join(bad))
