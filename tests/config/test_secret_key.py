"""Without LEADLOOP_SECRET_KEY, a key is made once and kept under var/, readable by its owner
only; processes that start together (the server and the worker of `make run`) use one key."""

import stat

from leadloop.config import settings as leadloop_settings
from leadloop.config.settings import secret_key


def test_a_key_is_made_once_and_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("LEADLOOP_SECRET_KEY", raising=False)
    first = secret_key(tmp_path)
    assert len(first) >= 50
    assert secret_key(tmp_path) == first
    kept = tmp_path / "secret_key"
    assert kept.read_text() == first
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no draft left behind


def test_the_environment_wins_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADLOOP_SECRET_KEY", "from-the-environment")
    assert secret_key(tmp_path) == "from-the-environment"
    assert not any(tmp_path.iterdir())


def test_a_process_starting_while_another_makes_the_key_uses_the_same_key(tmp_path, monkeypatch):
    """The second process starts after the first saw no key and before it stored its own (it
    runs inside the first one's drawing of the key): both must end with one key."""
    monkeypatch.delenv("LEADLOOP_SECRET_KEY", raising=False)
    draw = leadloop_settings.secrets.token_urlsafe
    seen_by_the_other = []

    def drawn_while_another_starts(nbytes):
        if not seen_by_the_other:
            seen_by_the_other.append(None)
            seen_by_the_other[0] = secret_key(tmp_path)
        return draw(nbytes)

    monkeypatch.setattr(leadloop_settings.secrets, "token_urlsafe", drawn_while_another_starts)
    mine = secret_key(tmp_path)
    assert mine == seen_by_the_other[0] == (tmp_path / "secret_key").read_text()


def test_a_file_system_without_hard_links_still_gets_a_whole_key(tmp_path, monkeypatch):
    monkeypatch.delenv("LEADLOOP_SECRET_KEY", raising=False)

    def no_hard_links(_source, _target):
        raise PermissionError("Operation not permitted")

    monkeypatch.setattr(leadloop_settings.os, "link", no_hard_links)
    key = secret_key(tmp_path)
    assert len(key) >= 50 and secret_key(tmp_path) == key
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
