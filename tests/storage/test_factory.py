from __future__ import annotations

from pathlib import Path

from studio.config import Settings
from studio.storage.factory import create_storage
from studio.storage.local import LocalStorage
from studio.storage.s3 import S3Storage


def test_local_by_default_under_home(tmp_path: Path) -> None:
    storage = create_storage(Settings(env="test", home=tmp_path))
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path.resolve() / "storage"


def test_local_storage_dir_overrides(tmp_path: Path) -> None:
    storage = create_storage(Settings(env="test", home=tmp_path, storage_dir=tmp_path / "elsewhere"))
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path.resolve() / "elsewhere"


def test_s3_when_asked(tmp_path: Path) -> None:
    storage = create_storage(Settings(env="test", home=tmp_path, storage_backend="s3",
                                      s3_endpoint_url="http://127.0.0.1:9", s3_bucket_prefix="acme-",
                                      s3_access_key_id="k", s3_secret_access_key="s"))
    assert isinstance(storage, S3Storage)
    assert storage.bucket_name("attachments") == "acme-attachments"
