"""`instructrl labelapp ...` commands on a temporary SQLite database."""

import re

import pytest
from sqlalchemy import select

from instructrl.labelapp import main
from instructrl.labelapp.app import AppState
from instructrl.labelapp.config import LabelAppConfig
from instructrl.labelapp.db import ApiToken, Invite, User
from instructrl.labelapp.migrate import current_revision, head_revision


def test_migrate_create_admin_invite_token(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["migrate", "--db", url]) == 0
    assert current_revision(url) == head_revision() == "0001"
    monkeypatch.setenv("INSTRUCTRL_LABELAPP_PASSWORD", "a-long-admin-password")
    assert main(["create-admin", "--db", url, "--username", "boss"]) == 0
    assert main(["invite", "--db", url, "--pool", "heldout", "--base-url", "http://lab.example:8000"]) == 0
    assert main(["token", "--db", url, "--username", "boss", "--scopes", "batches:write,results:read"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"http://lab\.example:8000/invite/[A-Za-z0-9_-]{40,}", out[-2])
    token = out[-1]
    assert token.startswith("irl_")
    st = AppState(LabelAppConfig(db_url=url, dev=True))
    with st.tx() as s:
        admin = s.scalar(select(User))
        assert admin.role == "admin" and admin.pw_hash.startswith("$argon2id$v=19$m=65536")  # production KDF
        assert s.scalar(select(Invite)).pool == "heldout"
        assert s.scalar(select(ApiToken)).scopes == "batches:write results:read"
    st.engine.dispose()
    with pytest.raises(ValueError, match="no admin named"):
        main(["token", "--db", url, "--username", "nobody"])


def test_serve_refuses_without_a_secret_and_weak_passwords(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.delenv("INSTRUCTRL_LABELAPP_SECRET", raising=False)
    with pytest.raises(ValueError, match="secret key"):
        main(["serve", "--db", url, "--secret-key", ""])
    with pytest.raises(ValueError, match="at least 16"):
        main(["serve", "--db", url, "--secret-key", "short"])
    monkeypatch.setenv("INSTRUCTRL_LABELAPP_PASSWORD", "admin")
    with pytest.raises(ValueError, match="at least 10"):
        main(["create-admin", "--db", url, "--username", "boss"])


def test_invite_needs_a_migrated_database(tmp_path):
    with pytest.raises(ValueError, match="labelapp migrate"):
        main(["invite", "--db", f"sqlite:///{tmp_path / 'new.db'}"])


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="gold_rate"):
        LabelAppConfig(dev=True, gold_rate=1.5)
    with pytest.raises(ValueError, match="max_open"):
        LabelAppConfig(dev=True, max_open=0)


def test_instructrl_cli_dispatches_to_labelapp(tmp_path):
    from instructrl.cli import main as instructrl_main

    url = f"sqlite:///{tmp_path / 'd.db'}"
    assert instructrl_main(["labelapp", "migrate", "--db", url]) == 0
    assert current_revision(url) == "0001"
    with pytest.raises(SystemExit):  # argparse refuses an unknown pool
        instructrl_main(["labelapp", "invite", "--db", url, "--pool", "nowhere"])
