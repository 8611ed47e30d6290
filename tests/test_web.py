"""Exposure policy: login beyond loopback (scrypt-hashed users from a file or the environment), a
per-user rate limit, and the pieces of the web guard that need no server."""
from __future__ import annotations

import subprocess
import sys

import pytest

from kb.config import AppSettings
from kb.errors import ConfigError
from kb.web import (
    RateLimit,
    Users,
    content_security_policy,
    exposure_problem,
    hash_password,
    parse_users,
    save_user,
    verify_password,
)

from .conftest import ROOT
from .test_app import _ask, app_data_copy, start_app, stop_app

PASSWORD = "korrekt-hest-batteri-hæfteklamme"


def test_passwords_are_stored_as_salted_scrypt_hashes():
    stored = hash_password(PASSWORD)
    assert stored.startswith("scrypt$") and PASSWORD not in stored
    assert stored != hash_password(PASSWORD)  # salted
    assert verify_password(PASSWORD, stored) and not verify_password(PASSWORD + "x", stored)
    assert not verify_password(PASSWORD, "scrypt$not-base64$!!") and not verify_password(PASSWORD, "plain")


def test_users_come_from_the_file_and_the_environment_and_bad_entries_are_refused(tmp_path):
    users_file = tmp_path / "users.txt"
    save_user(users_file, "anne", PASSWORD)
    save_user(users_file, "anne", PASSWORD + "2")  # a new password replaces the old one
    assert (users_file.stat().st_mode & 0o777) == 0o600
    users = Users.from_settings(AppSettings(app_users=f"bo:{hash_password('bo-har-en-lang-kode')}"), users_file)
    assert users.names() == ["anne", "bo"]
    assert users("anne", PASSWORD + "2") and not users("anne", PASSWORD) and users("bo", "bo-har-en-lang-kode")
    assert not users("ukendt", PASSWORD)
    with pytest.raises(ConfigError, match="KB_APP_USERS") as refused:
        parse_users("anne:klartekst-adgangskode", "KB_APP_USERS")
    assert "klartekst" not in str(refused.value)  # the message never repeats the entry
    with pytest.raises(ConfigError, match="12 tegn"):
        save_user(users_file, "carl", "kort")


def test_listening_beyond_loopback_needs_users():
    assert exposure_problem(AppSettings(app_host="127.0.0.1"), Users({})) is None
    problem = exposure_problem(AppSettings(app_host="0.0.0.0"), Users({}))
    assert problem and "kb user add" in problem
    assert exposure_problem(AppSettings(app_host="0.0.0.0"), Users({"anne": hash_password(PASSWORD)})) is None


def test_the_rate_limit_counts_questions_per_key_in_a_sliding_minute():
    now = [0.0]
    limit = RateLimit(3, clock=lambda: now[0])
    assert [limit.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limit.allow("b")  # another user is not affected
    now[0] = 59.9
    assert not limit.allow("a")
    now[0] = 60.0
    assert limit.allow("a")
    assert all(RateLimit(0).allow("a") for _ in range(100))  # 0 turns it off


def test_the_script_policy_allows_exactly_the_pages_inline_scripts():
    page = b"<script>window.a=1</script><script type='module' src='./x.js'></script><script>b()</script>"
    policy = content_security_policy(page)
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert script_src.count("'sha256-") == 2 and "'unsafe-inline'" not in script_src
    assert content_security_policy(page.replace(b"b()", b"evil()")) != policy


def test_the_chat_refuses_to_listen_on_the_network_without_users(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "app.py")], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={"PATH": "/usr/bin:/bin", "KB_APP_HOST": "0.0.0.0",
                                              "KB_DATA_DIR": str(tmp_path / "data"), "HOME": str(tmp_path)})
    assert result.returncode != 0
    assert "kræver login" in result.stderr and "kb user add" in result.stderr


@pytest.fixture(scope="module")
def guarded_server(corpus_kb, tmp_path_factory):
    """The chat with one user in its users file and a limit of 3 questions a minute."""
    data_dir, env = app_data_copy(corpus_kb, tmp_path_factory, "guarded")
    save_user(data_dir / "users.txt", "anne", PASSWORD)
    proc, url = start_app({**env, "KB_APP_QUESTIONS_PER_MINUTE": "3"}, data_dir.parent / "app.log")
    yield url
    stop_app(proc)


def test_with_users_the_chat_needs_a_login(guarded_server):
    import urllib.error
    import urllib.request

    from gradio_client import Client

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(guarded_server + "gradio_api/info", timeout=10)
    assert refused.value.code == 401
    with pytest.raises(Exception):  # noqa: B017 - gradio_client raises its own or httpx's error for a bad login
        Client(guarded_server, auth=("anne", "forkert-adgangskode"), verbose=False)
    text, _, data = _ask(Client(guarded_server, auth=("anne", PASSWORD), verbose=False),
                         "Hvornår skal afrapporteringen sendes til Social- og Boligstyrelsen?")
    assert "31. maj 2025" in text and not data["abstained"]


def test_too_many_questions_a_minute_get_a_friendly_message(guarded_server):
    from gradio_client import Client

    client = Client(guarded_server, auth=("anne", PASSWORD), verbose=False)
    answers = [_ask(client, "Hvem er målgruppen for den centrale udmelding?")[0] for _ in range(4)]
    assert "mange spørgsmål på kort tid" in answers[-1] and "højst 3" in answers[-1]
    assert "mange spørgsmål" not in answers[0]
