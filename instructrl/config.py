"""One frozen, validated config dataclass per command; YAML + ``key=value`` overrides.

``load_config(Cls, yaml_path, overrides)`` builds ``Cls`` from defaults, then the YAML
file, then CLI overrides (``--lr 1e-5``, ``lr=1e-5`` or ``model.name=tiny``, dotted for
nested groups). Unknown keys and ill-typed values raise ``ValueError`` naming the key and
the value: nothing is silently fixed (style.md §2). Field docstrings are written as
``metadata={"help": ...}`` and become the ``--help`` text.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import yaml

from instructrl.data.io import write_text_atomic

C = TypeVar("C")


def field(default: Any = dataclasses.MISSING, *, help: str, default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field carrying its ``--help`` text."""
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def _is_dataclass_type(t: Any) -> bool:
    return isinstance(t, type) and dataclasses.is_dataclass(t)


def _coerce(value: Any, typ: Any, key: str) -> Any:
    """Coerce a YAML/CLI value to ``typ``; raise ValueError naming ``key`` if impossible."""
    origin = get_origin(typ)
    if typ is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = get_args(typ)
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null") and type(None) in args):
            if type(None) in args:
                return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(f"config key '{key}': value {value!r} does not fit {typ}")
    if origin is typing.Literal:
        choices = get_args(typ)
        if value not in choices:
            raise ValueError(f"config key '{key}': {value!r} is not one of {list(choices)}")
        return value
    if _is_dataclass_type(typ):
        if isinstance(value, typ):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"config key '{key}': expected a mapping for {typ.__name__}, got {value!r}")
        return build(typ, value, prefix=key + ".")
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v] if value else []
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]  # `key=0.7` on the command line: a one-element list
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"config key '{key}': expected a list, got {value!r}")
        args = get_args(typ)
        elem = args[0] if args else Any
        items = [_coerce(v, elem, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"config key '{key}': expected a mapping, got {value!r}")
        return dict(value)
    if typ is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"config key '{key}': expected true/false, got {value!r}")
    if typ is int:
        if isinstance(value, bool):
            raise ValueError(f"config key '{key}': expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ValueError(f"config key '{key}': expected an integer, got {value!r}")
    if typ is float:
        if isinstance(value, bool):
            raise ValueError(f"config key '{key}': expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ValueError(f"config key '{key}': expected a number, got {value!r}")
    if typ is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ValueError(f"config key '{key}': expected a string, got {value!r}")
    return value


def build(cls: type[C], values: dict[str, Any], prefix: str = "") -> C:
    """Build ``cls`` from a (nested) mapping. Unknown keys raise."""
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown config key(s) {[prefix + u for u in unknown]} for {cls.__name__}; known: {sorted(names)}")
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in values.items()}
    return cls(**kwargs)


def _set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ValueError(f"config key '{key}': '{p}' is not a group")
    node[parts[-1]] = value


def _parse_scalar(text: str) -> Any:
    """CLI values are parsed as YAML scalars, so ``1e-5``, ``true`` and ``[a, b]`` work."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_overrides(argv: list[str]) -> dict[str, Any]:
    """``['--lr', '1e-5', 'model.name=tiny', '--no-pack']`` -> nested dict."""
    out: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            body = arg[2:]
            if "=" in body:
                k, v = body.split("=", 1)
                i += 1
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--") and "=" not in argv[i + 1]:
                k, v = body, argv[i + 1]
                i += 2
            else:
                k, v = body, "true"
                i += 1
            k = k.replace("-", "_")
        elif "=" in arg:
            k, v = arg.split("=", 1)
            i += 1
        else:
            raise ValueError(f"cannot parse argument {arg!r}: use key=value or --key value")
        _set_dotted(out, k, _parse_scalar(v))
    return out


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def load_config(cls: type[C], path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None) -> C:
    """Defaults <- YAML file <- overrides. Returns a validated, frozen ``cls``."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"config file not found: {path}")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: a config file must be a mapping, got {type(loaded).__name__}")
        values = loaded
    if overrides:
        over = parse_overrides(overrides) if isinstance(overrides, list) else overrides
        values = _deep_merge(values, over)
    return build(cls, values)


def to_dict(cfg: Any) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, path: str | Path) -> None:
    write_text_atomic(path, yaml.safe_dump(json.loads(json.dumps(to_dict(cfg), default=str)), sort_keys=False))


def help_text(cls: type, prefix: str = "") -> str:
    """Lines of ``key (type, default): help`` for ``--help``, recursing into groups."""
    lines = []
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        t = hints[f.name]
        if _is_dataclass_type(t):
            lines.append(f"{prefix}{f.name}.*: {f.metadata.get('help', '')}")
            lines.append(help_text(t, prefix + f.name + "."))
            continue
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else "required"  # type: ignore[misc]
        )
        tname = getattr(t, "__name__", str(t)).replace("typing.", "")
        lines.append(f"  {prefix}{f.name} ({tname}, default {default!r}): {f.metadata.get('help', '')}")
    return "\n".join(lines)


def command_main(cls: type[C], argv: list[str], prog: str, description: str) -> tuple[C, argparse.Namespace]:
    """Shared CLI front for a stage: ``[--config FILE] [overrides...]`` -> config."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog="config keys (YAML keys and key=value / --key value overrides):\n" + help_text(cls),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", "-c", default=None, help="YAML config file")
    ns, rest = parser.parse_known_args(argv)
    return load_config(cls, ns.config, rest), ns
