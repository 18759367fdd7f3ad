"""``cauri providers`` and ``cauri doctor``, each in its own process with the stub provider's connector installed:
credentials come from standard input or the environment, never from the command line, and never come back out."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.providers_stub import StubProvider, stub_providers

SECRET = "sk_live_h7Tq2Wm9Xc4Rz8Lp"
#: ``cauri`` with the stub's connector installed, as a provider package would install its own.
RUN = ("from cauri.connectors.providers import PROVIDERS; from tests.providers_stub import StubConnector; "
       "PROVIDERS['stub'] = StubConnector; import sys; from cauri.cli import cli; cli(sys.argv[1:])")  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]


def cauri(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RUN, *args], env=env, input=stdin, capture_output=True, text=True,
                          timeout=60, check=False, cwd=ROOT)  # fmt: skip


@pytest.fixture
def env(env_without_cauri: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**env_without_cauri, "CAURI_DATA_DIR": str(tmp_path / "data"), "CAURI_LOG_LEVEL": "warning",
            "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "COLUMNS": "200"}  # fmt: skip


@pytest.fixture
def stub() -> Iterator[StubProvider]:
    with stub_providers(1) as (started,):
        yield started


@pytest.fixture
def app_id(env: dict[str, str]) -> str:
    created = cauri("apps", "create", "Shop", "--live", "--json", env=env)
    assert created.returncode == 0, created.stderr
    return str(json.loads(created.stdout)["id"])


def accounts(env: dict[str, str], app_id: str) -> list[dict[str, object]]:
    listed = cauri("providers", "list", app_id, "--live", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout))


def test_credentials_are_read_from_standard_input(env: dict[str, str], app_id: str, tmp_path: Path) -> None:
    added = cauri("providers", "add", app_id, "stub", "--label", "Main", "--live", "--methods", "mtn_bj",
                  "--base-url", "http://127.0.0.1:9", "--json", env=env, stdin=SECRET + "\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    account = json.loads(added.stdout)
    assert account["methods"] == ["mtn_bj"] and account["sandbox"] is False and account["environment"] == "live"
    assert SECRET not in added.stdout + added.stderr
    listed = cauri("providers", "list", app_id, "--live", env=env)
    assert account["id"] in listed.stdout and SECRET not in listed.stdout
    database = tmp_path / "data" / "cauri.db"
    assert all(SECRET.encode() not in f.read_bytes() for f in database.parent.glob("cauri.db*"))


def test_credentials_are_read_from_the_environment_or_as_json(env: dict[str, str], app_id: str) -> None:
    from_env = cauri("providers", "add", app_id, "stub", "--label", "Env", "--live",
                     env={**env, "CAURI_CREDENTIAL_API_KEY": SECRET})  # fmt: skip
    assert from_env.returncode == 0, from_env.stderr
    as_json = cauri("providers", "add", app_id, "stub", "--label", "Json", "--live", "--sandbox", env=env,
                    stdin=json.dumps({"api_key": SECRET}))  # fmt: skip
    assert as_json.returncode == 0, as_json.stderr
    assert [(a["label"], a["sandbox"]) for a in accounts(env, app_id)] == [("Env", False), ("Json", True)]


def test_a_credential_on_the_command_line_is_refused(env: dict[str, str], app_id: str) -> None:
    """An argument lands in shell histories and in every process listing: there is no option to give one."""
    refused = cauri("providers", "add", app_id, "stub", "--label", "Main", "--live", "--api-key", SECRET, env=env,
                    stdin=SECRET)  # fmt: skip
    assert refused.returncode == 2 and "No such option" in refused.stderr
    assert accounts(env, app_id) == []


def test_a_missing_credential_names_the_field(env: dict[str, str], app_id: str) -> None:
    refused = cauri("providers", "add", app_id, "stub", "--label", "Main", "--live", env=env, stdin="")
    assert refused.returncode == 1 and "credentials.api_key" in refused.stderr
    unknown = cauri("providers", "add", app_id, "nonesuch", "--label", "Main", env=env, stdin=SECRET)
    assert unknown.returncode == 1 and "unknown provider 'nonesuch'" in unknown.stderr and "stub" in unknown.stderr
    assert accounts(env, app_id) == []


def test_doctor_says_which_accounts_their_provider_accepts(
    env: dict[str, str], app_id: str, stub: StubProvider
) -> None:
    for label, key in (("Good", "good-key"), ("Stale", "revoked-key")):
        added = cauri("providers", "add", app_id, "stub", "--label", label, "--live", "--base-url", stub.url,
                      env=env, stdin=key)  # fmt: skip
        assert added.returncode == 0, added.stderr
    checked = cauri("doctor", app_id, env=env)
    assert checked.returncode == 1
    lines = checked.stdout.splitlines()
    assert any(line.startswith("ok") and "Good" in line and "signed in as Stub merchant" in line for line in lines)
    assert any(line.startswith("FAIL") and "Stale" in line and "credentials refused" in line for line in lines)
    assert "good-key" not in checked.stdout + checked.stderr and "revoked-key" not in checked.stdout + checked.stderr

    stale = next(a["id"] for a in accounts(env, app_id) if a["label"] == "Stale")
    assert cauri("providers", "remove", app_id, str(stale), "--live", env=env).returncode == 0
    assert cauri("doctor", app_id, env=env).returncode == 0
    stub.mode = "unavailable"
    down = cauri("doctor", app_id, env=env)
    assert down.returncode == 1 and "unreachable" in down.stdout


def test_doctor_without_accounts_says_so(env: dict[str, str], app_id: str) -> None:
    checked = cauri("doctor", app_id, env=env)
    assert checked.returncode == 0 and "no provider accounts" in checked.stdout
