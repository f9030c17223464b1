"""``instructrl <command> [--config FILE.yaml] [key=value | --key value ...]``.

Each command is a stage module exposing ``main(argv) -> int``; modules are imported
lazily so ``instructrl sft`` never imports the web app, and vice versa.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "sft": ("instructrl.sft", "step 1: supervised fine-tuning on demonstrations"),
    "rm": ("instructrl.reward", "step 2: reward model on K-way rankings"),
    "ppo": ("instructrl.ppo", "step 3: PPO / PPO-ptx against a reward model"),
    "run": ("instructrl.loop", "the iterative InstructGPT loop (main job)"),
    "eval": ("instructrl.evals", "evaluate checkpoints side by side"),
    "process": ("instructrl.tasks.processing", "the paper's prompt processing on any prompt set: dedup, user cap and split, PII"),
    "labelapp": ("instructrl.labelapp", "the labeling web app (serve, create-admin, bot)"),
}


def _usage() -> str:
    lines = ["usage: instructrl <command> [--config FILE.yaml] [key=value ...]", "", "commands:"]
    lines += [f"  {name:<9} {desc}" for name, (_, desc) in COMMANDS.items()]
    lines += ["", "`instructrl <command> --help` lists the command's config keys."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    if argv[0] in ("--version", "-V"):
        from instructrl import __version__

        print(__version__)
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"instructrl: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name = COMMANDS[name][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("instructrl"):
            print(f"instructrl: command {name!r} is not available in this version ({e})", file=sys.stderr)
            return 2
        raise
    try:
        return int(module.main(rest) or 0)
    except (ValueError, FileNotFoundError) as e:
        # Bad config or input: a clear one-line error, no traceback.
        print(f"instructrl {name}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
