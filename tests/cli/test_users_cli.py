"""``cauri users``: a dashboard user created with the password on standard input, and TOTP enrolment."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest


def cauri(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cauri", *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip


@pytest.fixture
def env(env_without_cauri: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env_without_cauri, "CAURI_DATA_DIR": str(tmp_path / "data"), "CAURI_LOG_LEVEL": "warning"}


def test_users_are_created_from_standard_input_and_enrol_totp(env: dict[str, str], tmp_path: Path) -> None:
    assert cauri("apps", "create", "Boutique", env=env).returncode == 0
    password = "a long enough secret phrase"
    created = cauri("users", "create", "Awa@Example.com", "--role", "developer", "--app", "Boutique", env=env,
                    stdin=password + "\n")  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "awa@example.com" in created.stderr and "developer" in created.stderr
    assert password.encode() not in (tmp_path / "data" / "cauri.db").read_bytes()
    again = cauri("users", "create", "awa@example.com", env=env, stdin=password + "\n")
    assert again.returncode == 1 and "exists already" in again.stderr
    short = cauri("users", "create", "b@example.com", env=env, stdin="short\n")
    assert short.returncode == 1 and "12 to 1024" in short.stderr
    unknown_app = cauri("users", "create", "c@example.com", "--app", "Nope", env=env, stdin=password + "\n")
    assert unknown_app.returncode == 1

    enrolled = cauri("users", "totp", "awa@example.com", env=env)
    assert enrolled.returncode == 0, enrolled.stderr
    uri = urlsplit(enrolled.stdout.strip())
    assert uri.scheme == "otpauth" and len(parse_qs(uri.query)["secret"][0]) == 32
    assert cauri("users", "totp", "nobody@example.com", env=env).returncode == 1


def test_a_user_is_given_an_app_created_after_them_and_another_role(env: dict[str, str]) -> None:
    assert cauri("apps", "create", "Boutique", env=env).returncode == 0
    created = cauri("users", "create", "awa@example.com", "--role", "viewer", env=env, stdin="a long enough phrase\n")
    assert created.returncode == 0, created.stderr
    assert cauri("apps", "create", "Second shop", env=env).returncode == 0

    def listed() -> dict[str, object]:
        answer = cauri("users", "list", "--json", env=env)
        assert answer.returncode == 0, answer.stderr
        [user] = json.loads(answer.stdout)
        assert set(user) == {"id", "email", "role", "apps", "totp", "created_at"}  # never a hash or a secret
        return dict(user)

    apps = {a["name"]: a["id"] for a in json.loads(cauri("apps", "list", "--json", env=env).stdout)}
    assert listed()["apps"] == [apps["Boutique"]]  # every app there was, not the one made after
    granted = cauri("users", "grant", "Awa@example.com", "--app", "Second shop", env=env)
    assert granted.returncode == 0 and apps["Second shop"] in granted.stderr, granted.stderr
    assert sorted(listed()["apps"]) == sorted(apps.values())  # type: ignore[type-var]
    assert cauri("users", "revoke", "awa@example.com", "--app", "Boutique", env=env).returncode == 0
    assert cauri("users", "role", "awa@example.com", "developer", env=env).returncode == 0
    assert {k: listed()[k] for k in ("apps", "role", "totp")} == {
        "apps": [apps["Second shop"]], "role": "developer", "totp": False,
    }  # fmt: skip
    refused = cauri("users", "role", "awa@example.com", "admin", env=env)
    assert refused.returncode == 1 and "owner, developer, viewer" in refused.stderr
    assert cauri("users", "grant", "nobody@example.com", "--app", "Boutique", env=env).returncode == 1
    assert cauri("users", "grant", "awa@example.com", "--app", "No such shop", env=env).returncode == 1
    assert listed()["role"] == "developer"
    table = cauri("users", "list", env=env)
    assert table.returncode == 0 and "awa@example.com" in table.stdout
