"""The command signing key lives in a file only its owner reads, never in the store."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from collector.config import CollectorConfig, StoreSettings, signing_key_path
from collector.db import make_engine, migrate
from collector.diagnostics import public_key_text, signing_key, signing_keys
from collector.errors import ConfigError


def _store(tmp_path: Path) -> sa.Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'collector.db'}")
    migrate(engine)
    return engine


def _seed(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def _store_bytes(tmp_path: Path, engine: sa.Engine) -> bytes:
    """Everything a backup of the store copies: the database file and its WAL."""
    engine.dispose()
    return b"".join(p.read_bytes() for p in tmp_path.glob("collector.db*"))


def test_a_new_key_goes_to_a_0600_file_and_the_store_keeps_only_the_public_half(tmp_path: Path) -> None:
    engine = _store(tmp_path)
    key_file = signing_key_path(
        CollectorConfig(store=StoreSettings(f"sqlite:///{tmp_path / 'collector.db'}"))
    )
    assert key_file == tmp_path / "collector.db.signing-key"
    key = signing_key(engine, key_file)
    assert os.stat(key_file).st_mode & 0o777 == 0o600
    assert public_key_text(signing_key(engine, key_file)) == public_key_text(key)  # the same one again
    with engine.connect() as conn:
        row = conn.execute(sa.select(signing_keys)).one()
    assert row.private_key == b"" and row.public_key == public_key_text(key)
    assert _seed(key) not in _store_bytes(tmp_path, engine)


def test_a_key_kept_in_the_store_before_is_moved_out(tmp_path: Path) -> None:
    engine = _store(tmp_path)
    old = Ed25519PrivateKey.generate()
    with engine.begin() as conn:  # what a store of the previous release holds
        conn.execute(
            signing_keys.insert().values(
                id=1, private_key=_seed(old), public_key=public_key_text(old), created_ns=1
            )
        )
    key = signing_key(engine, tmp_path / "key.pem")
    assert _seed(key) == _seed(old)  # agents keep trusting the same key
    assert os.stat(tmp_path / "key.pem").st_mode & 0o777 == 0o600
    with engine.connect() as conn:
        assert conn.execute(sa.select(signing_keys.c.private_key)).scalar_one() == b""
    assert _seed(old) not in _store_bytes(tmp_path, engine)  # no stale page keeps it either


def test_a_key_file_others_may_read_is_refused(tmp_path: Path) -> None:
    engine = _store(tmp_path)
    key_file = tmp_path / "key.pem"
    signing_key(engine, key_file)
    key_file.chmod(0o644)
    with pytest.raises(
        ConfigError, match=r"key.pem: the command signing key may be readable by its owner only"
    ):
        signing_key(engine, key_file)


def test_a_lost_or_different_key_file_is_named(tmp_path: Path) -> None:
    engine = _store(tmp_path)
    key_file = tmp_path / "key.pem"
    trusted = public_key_text(signing_key(engine, key_file))
    key_file.unlink()
    with pytest.raises(
        ConfigError, match=rf"key.pem is missing: .*\({re.escape(trusted)}\)\. Restore it from your backup"
    ):
        signing_key(engine, key_file)
    other = tmp_path / "other.pem"
    signing_key(_store(tmp_path / "elsewhere"), other)
    with pytest.raises(ConfigError, match="holds another signing key than the one agents trust"):
        signing_key(engine, other)
