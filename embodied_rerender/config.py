"""Verb configs: `configs/<verb>.yaml` composed with `key=value` overrides (Hydra), the one way every entry
point (the console script, the benchmark's in-process `augment`, the examples) builds a verb's options."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

CONFIG_DIR = Path(__file__).parent / "configs"


# Keys whose values are paths: taken as given (spaces, non-ASCII letters, commas, quotes), not through Hydra's
# override grammar, which would refuse them or read a comma as a sweep.
PATH_KEYS = frozenset({"input", "output", "data", "ground_truth", "checkpoint", "poses", "loop_data", "init",
                       "hybrid", "learned", "hybrid_loop", "learned_loop", "stream", "student", "teacher"})


def split_paths(overrides: list[str]) -> tuple[list[str], dict[str, str]]:
    """(`overrides` Hydra parses, {path key: value as given}); `null` stays with Hydra."""
    rest, paths = [], {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if sep and key in PATH_KEYS and value != "null":
            paths[key] = value
        else:
            rest.append(item)
    return rest, paths


def load_config(verb: str, overrides: list[str]) -> DictConfig:
    """Compose `configs/<verb>.yaml` with `key=value` overrides (path values set verbatim afterwards)."""
    from hydra import compose, initialize_config_dir

    overrides, paths = split_paths(overrides)
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        cfg = compose(config_name=verb, overrides=overrides)
    for key, value in paths.items():
        if key not in cfg.keys():  # (`in` is False for a key still ???)
            raise SystemExit(f"embodied-rerender {verb}: unknown key {key}= (see embodied-rerender {verb} --help)")
        if not OmegaConf.is_missing(cfg, key) and OmegaConf.is_config(cfg[key]):  # a group (augment hybrid:)
            raise SystemExit(f"embodied-rerender {verb}: {key}= is a group of options; set {key}.OPTION=... instead")
        cfg[key] = value.replace("${", "\\${")  # a literal path, never an interpolation
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise SystemExit(f"embodied-rerender {verb}: missing required {', '.join(k + '=...' for k in missing)}")
    return cfg
