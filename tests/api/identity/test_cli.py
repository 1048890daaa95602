"""The README's first steps with the unmodified `openstack` CLI."""

from __future__ import annotations

import json
import uuid

from tests.cloud import Cloud


def test_readme_flow_with_the_cli(identity_cloud: Cloud) -> None:
    suffix = uuid.uuid4().hex[:6]
    token = json.loads(identity_cloud.cli("token", "issue", "-f", "json").stdout)
    assert token["id"] and token["project_id"] and token["user_id"]

    project = json.loads(
        identity_cloud.cli("project", "create", f"eng-{suffix}", "-f", "json").stdout
    )
    assert project["name"] == f"eng-{suffix}"
    user = json.loads(
        identity_cloud.cli(
            "user",
            "create",
            "--project",
            f"eng-{suffix}",
            "--password",
            "alice-pw",
            f"alice-{suffix}",
            "-f",
            "json",
        ).stdout
    )
    assert user["default_project_id"] == project["id"]
    identity_cloud.cli(
        "role", "add", "--project", f"eng-{suffix}", "--user", f"alice-{suffix}", "member"
    )

    assignments = json.loads(
        identity_cloud.cli(
            "role", "assignment", "list", "--user", f"alice-{suffix}", "--names", "-f", "json"
        ).stdout
    )
    assert [(a["Role"], a["Project"]) for a in assignments] == [("member", f"eng-{suffix}@Default")]

    catalog = json.loads(identity_cloud.cli("catalog", "list", "-f", "json").stdout)
    assert "identity" in {c["Type"] for c in catalog}

    # alice can log in with her own password into her project
    alice = json.loads(
        identity_cloud.cli(
            "token",
            "issue",
            "-f",
            "json",
            username=f"alice-{suffix}",
            password="alice-pw",
            project=f"eng-{suffix}",
        ).stdout
    )
    assert alice["project_id"] == project["id"]


def test_cli_wrong_password_fails_cleanly(identity_cloud: Cloud) -> None:
    result = identity_cloud.cli("token", "issue", check=False, password="wrong")
    assert result.returncode != 0
    assert "401" in result.stderr or "authentication" in result.stderr.lower()
