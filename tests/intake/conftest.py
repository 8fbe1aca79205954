import pytest


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    """Uploaded import files go under a temporary VAR_DIR, not the worktree's var/."""
    settings.VAR_DIR = tmp_path / "var"
