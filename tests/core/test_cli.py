"""The command-line tool: `leadloop workspace create` and `leadloop token create`."""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from leadloop.core.models import ApiToken, Workspace
from leadloop.core.services import token_authenticate
from leadloop.pipeline.models import Stage
from tests.core.support import database_url

TOKEN_RE = re.compile(r"^ll_[0-9a-f]{10}_[A-Za-z0-9_-]{40,}$")
LEADLOOP = Path(sys.executable).with_name("leadloop")


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_workspace_create_makes_an_empty_workspace_with_the_default_preset(db):
    out, _err = run("workspace", "create", "nha-dat-an-phu", "--name", "Nhà Đất An Phú")
    assert "nha-dat-an-phu" in out
    workspace = Workspace.objects.get(slug="nha-dat-an-phu")
    assert workspace.name == "Nhà Đất An Phú"
    assert workspace.time_zone == "Asia/Ho_Chi_Minh"
    keys = list(Stage.objects.filter(workspace=workspace).values_list("key", flat=True))
    assert keys == ["new", "k3", "k2", "k5", "k1", "k4-1", "k4-2"]
    assert not workspace.members.exists()
    assert not workspace.leads.exists()


def test_workspace_create_with_a_preset(db):
    run("workspace", "create", "school", "--preset", "journey")
    assert Stage.objects.filter(workspace__slug="school", key="trial").exists()


def test_a_duplicate_or_invalid_slug_is_an_error(db):
    run("workspace", "create", "shop")
    with pytest.raises(CommandError, match="shop"):  # the message names the slug
        run("workspace", "create", "shop", "--name", "Again")
    assert Workspace.objects.filter(slug="shop").count() == 1
    for bad in ("Bad Slug", "ÂU", "-"):
        with pytest.raises(CommandError):
            run("workspace", "create", bad)


def test_a_too_long_slug_or_name_is_an_error_not_a_crash(db):
    with pytest.raises(CommandError):
        run("workspace", "create", "a" * 51)
    with pytest.raises(CommandError):
        run("workspace", "create", "long-name", "--name", "N" * 201)
    assert not Workspace.objects.exists()
    run("workspace", "create", "a" * 50, "--name", "N" * 200)
    assert Workspace.objects.get().name == "N" * 200


def test_token_create_prints_only_the_token_and_it_authenticates(team):
    out, _err = run("token", "create", "--workspace", "acme", "--name", "zapier", "--role", "sales")
    key = out.strip()
    assert out.count("\n") == 1 and TOKEN_RE.match(key), out
    token = token_authenticate(key)
    assert (token.workspace, token.role, token.name) == (team.workspace, "sales", "zapier")
    response = Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/stages")
    assert response.status_code == 200


def test_token_create_defaults_to_admin_and_can_act_as_a_member(team):
    key = run("token", "create", "--workspace", "acme", "--name", "ops")[0].strip()
    assert token_authenticate(key).role == "admin"
    key = run(
        "token",
        "create",
        "--workspace",
        "acme",
        "--name",
        "rep",
        "--role",
        "sales",
        "--member",
        "SALES@acme.test",
    )[0].strip()
    assert token_authenticate(key).member == team.members["sales"]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/leads", {"owner": "me"}).status_code == 200


def test_token_create_errors(team):
    with pytest.raises(CommandError, match="nowhere"):
        run("token", "create", "--workspace", "nowhere", "--name", "x")
    with pytest.raises(CommandError):
        run("token", "create", "--workspace", "acme", "--name", "x", "--member", "who@x.vn")
    with pytest.raises(CommandError):
        run("token", "create", "--workspace", "acme", "--name", "x", "--role", "root")
    assert not ApiToken.objects.filter(name="x").exists()


@pytest.mark.django_db(transaction=True)
def test_the_installed_leadloop_command_end_to_end():
    env = {**os.environ, "DATABASE_URL": database_url()}

    def leadloop(*args):
        return subprocess.run(
            [str(LEADLOOP), *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )

    created = leadloop("workspace", "create", "cli-shop", "--name", "CLI Shop")
    assert created.returncode == 0, created.stderr
    assert Workspace.objects.get(slug="cli-shop").name == "CLI Shop"
    again = leadloop("workspace", "create", "cli-shop", "--name", "CLI Shop")
    assert again.returncode != 0
    assert "cli-shop" in again.stderr  # a message naming the slug (in the default language)
    assert "Traceback" not in again.stderr
    token = leadloop(
        "token", "create", "--workspace", "cli-shop", "--name", "bot", "--role", "sales"
    )
    assert token.returncode == 0, token.stderr
    assert TOKEN_RE.match(token.stdout.strip()) and token.stdout.count("\n") == 1, token.stdout
    key = token.stdout.strip()
    response = Client(HTTP_AUTHORIZATION=f"Bearer {key}").get("/api/v1/stages")
    assert response.status_code == 200
    assert response.json()[0]["key"] == "new"
    assert token_authenticate(key).role == "sales"
