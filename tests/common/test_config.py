from __future__ import annotations

import re
from pathlib import Path

import pytest

from ministack import config


def test_defaults_env_and_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[database]\nurl = "postgresql://x@h/db"\n[services]\nidentity_port = 6000\n')
    settings = config.load(path, env={"MINISTACK_SERVICES_IDENTITY_PORT": "7000"})
    assert settings.database.url == "postgresql://x@h/db"
    assert settings.port("identity") == 7000
    assert settings.identity.token_expiration == 3600
    assert settings.identity.password_hash_rounds == 12
    assert settings.identity.max_request_body_size == 114688


def test_sqlite_is_the_embedded_default(tmp_path: Path) -> None:
    settings = config.load(
        tmp_path / "none.toml", env={"MINISTACK_DEFAULT_STATE_DIR": str(tmp_path)}
    )
    assert settings.database_url == f"sqlite:///{tmp_path}/ministack.db"
    assert settings.messaging.url == "memory://"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[nope]\n", "unknown section"),
        ("[database]\nbad = 1\n", "unknown key [database] bad"),
        ('[services]\nidentity_port = "x"\n', "expected int"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(config.ConfigError, match=re.escape(message)):
        config.load(path, env={})


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="MINISTACK_SERVICES_IDENTITY_PORT"):
        config.load(tmp_path / "x.toml", env={"MINISTACK_SERVICES_IDENTITY_PORT": "abc"})


def test_reference_lists_every_key() -> None:
    text = config.reference()
    for key in ("state_dir", "url", "token_expiration", "identity_port"):
        assert f"| {key} |" in text


def test_docs_config_is_current() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "config.md"
    assert doc.read_text() == config.reference() + "\n", (
        "run: ministack config-doc > docs/config.md"
    )
