"""The labeling web app: people write demonstrations, rate and rank model outputs.

``instructrl labelapp <command>``::

    migrate       create or upgrade the database schema
    serve         run the web app (FastAPI + uvicorn)
    create-admin  create an admin account (the only way to get the first login)
    invite        print a single-use invite link for a labeler (or admin)
    token         print a new API token for the training loop or exports
    bot           simulated labelers that label through the HTTP API

Needs the ``[labelapp]`` extra; nothing outside this package imports it.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

SECRET_ENV = "INSTRUCTRL_LABELAPP_SECRET"
TOKEN_ENV = "INSTRUCTRL_LABELAPP_TOKEN"
PASSWORD_ENV = "INSTRUCTRL_LABELAPP_PASSWORD"


def _config(args: argparse.Namespace, **extra: Any):
    from instructrl.config import build
    from instructrl.labelapp.config import LabelAppConfig

    values: dict[str, Any] = {"db_url": args.db, **extra}
    for kv in getattr(args, "set", None) or []:
        if "=" not in kv:
            raise ValueError(f"--set expects key=value, got {kv!r}")
        k, v = kv.split("=", 1)
        values[k.strip()] = v
    return build(LabelAppConfig, values)


def _cli_config(args: argparse.Namespace):
    """Config for offline commands (no server secret needed)."""
    return _config(args, dev=True)


def _add_db(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", default="sqlite:///labels.db", help="database URL (default: sqlite:///labels.db)")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="instructrl labelapp", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("migrate", help="create or upgrade the schema")
    _add_db(p)
    p = sub.add_parser("serve", help="run the web app")
    _add_db(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--secret-key", default=os.environ.get(SECRET_ENV, ""),
                   help=f"server secret (>= 16 chars; or set {SECRET_ENV})")
    p.add_argument("--dev", action="store_true", help="ephemeral secret, cookies without Secure (plain http)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a LabelAppConfig field")
    p = sub.add_parser("create-admin", help="create an admin account")
    _add_db(p)
    p.add_argument("--username", required=True)
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p = sub.add_parser("invite", help="print a single-use invite link")
    _add_db(p)
    p.add_argument("--role", choices=("labeler", "admin"), default="labeler")
    p.add_argument("--pool", choices=("train", "heldout"), default="train")
    p.add_argument("--screening", action="store_true", help="start in screening (train pool only)")
    p.add_argument("--base-url", default="http://127.0.0.1:8000")
    p = sub.add_parser("token", help="print a new API token for an admin account")
    _add_db(p)
    p.add_argument("--username", required=True, help="the admin who owns the token")
    p.add_argument("--name", default="loop")
    p.add_argument("--scopes", default="batches:write,results:read,export:read,labelers:write")
    p = sub.add_parser("bot", help="simulated labelers over the HTTP API")
    p.add_argument("--url", required=True)
    p.add_argument("--token", default=os.environ.get(TOKEN_ENV, ""), help=f"admin token with labelers:write ({TOKEN_ENV})")
    p.add_argument("--labelers", type=int, default=3)
    p.add_argument("--pool", choices=("train", "heldout"), default="train")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kinds", default="demo,rate_rank")
    p.add_argument("--idle-rounds", type=int, default=0, help="stop after N polls without work (0 = run forever)")
    p.add_argument("--poll", type=float, default=2.0, help="seconds between polls when idle")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    return {"migrate": _migrate, "serve": _serve, "create-admin": _create_admin, "invite": _invite,
            "token": _token, "bot": _bot}[args.cmd](args)


def _migrate(args: argparse.Namespace) -> int:
    from instructrl.labelapp.migrate import upgrade

    upgrade(args.db)
    print(f"database {args.db} is at the newest schema")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from instructrl.labelapp.app import create_app
    from instructrl.labelapp.migrate import upgrade

    extra: dict[str, Any] = {"secret_key": args.secret_key, "dev": args.dev}
    if args.dev:
        extra["cookie_secure"] = False
    cfg = _config(args, **extra)
    upgrade(cfg.db_url)
    app = create_app(cfg)
    with app.state.irl.tx() as s:
        from sqlalchemy import select

        from instructrl.labelapp.db import User

        if s.scalar(select(User.id).where(User.role == "admin")) is None:
            print("no admin account yet: run `instructrl labelapp create-admin --db ... --username NAME`",
                  file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    pw = getpass.getpass("password (>= 10 characters): ")
    if pw != getpass.getpass("again: "):
        raise ValueError("the passwords differ")
    return pw


def _create_admin(args: argparse.Namespace) -> int:
    from instructrl.labelapp import service
    from instructrl.labelapp.app import AppState
    from instructrl.labelapp.migrate import upgrade

    cfg = _cli_config(args)
    upgrade(cfg.db_url)
    st = AppState(cfg)
    pw_hash = st.hasher.hash(_read_password(args))
    with st.tx() as s:
        service.create_user(s, args.username, "admin", status="active", pw_hash=pw_hash)
        service.audit(s, "cli", "admin.create", user=args.username)
    print(f"admin {args.username!r} created")
    return 0


def _invite(args: argparse.Namespace) -> int:
    from instructrl.labelapp import service
    from instructrl.labelapp.app import AppState
    from instructrl.labelapp.migrate import require_current

    require_current(args.db)
    st = AppState(_cli_config(args))
    with st.tx() as s:
        token = service.create_invite(s, st.cfg, None, args.role, args.pool,
                                      "screening" if args.screening else "active")
    print(f"{args.base_url.rstrip('/')}/invite/{token}")
    return 0


def _token(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from instructrl.labelapp import service
    from instructrl.labelapp.app import AppState
    from instructrl.labelapp.db import User
    from instructrl.labelapp.migrate import require_current

    require_current(args.db)
    st = AppState(_cli_config(args))
    with st.tx() as s:
        user = s.scalar(select(User).where(User.username == args.username, User.role == "admin"))
        if user is None:
            raise ValueError(f"no admin named {args.username!r}")
        token = service.create_token(s, user, args.name, [x for x in args.scopes.split(",") if x], "cli")
    print(token)
    return 0


def _bot(args: argparse.Namespace) -> int:
    from instructrl.labelapp.bot import run_bots

    if not args.token:
        raise ValueError(f"the bot needs an admin token with the labelers:write scope (--token or {TOKEN_ENV})")
    kinds = tuple(k for k in args.kinds.split(",") if k)
    report = run_bots(args.url, args.token, n_labelers=args.labelers, pool=args.pool, seed=args.seed, kinds=kinds,
                      idle_rounds=args.idle_rounds, poll_s=args.poll)
    print(f"bots {report.labelers} submitted {report.submitted}")
    return 0
