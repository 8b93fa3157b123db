"""StateStore: atomic JSON documents per camera; a corrupt file is set aside, never fatal."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from careon_vision.state import StateStore


def test_missing_file_loads_as_none(tmp_path: Path):
    store = StateStore(tmp_path / "not-yet", "front")
    assert store.load() is None
    assert store.path == tmp_path / "not-yet" / "front.json"


def test_save_then_load_round_trip_and_creates_the_directory(tmp_path: Path):
    store = StateStore(tmp_path / "data", "front")
    document = {"date": "2026-11-22", "lines": {"door": {"in": 3, "out": 1}}, "name": "정문"}
    store.save(document)
    assert store.load() == document
    assert json.loads(store.path.read_text(encoding="utf-8")) == document
    store.save({"date": "2026-11-23"})
    assert store.load() == {"date": "2026-11-23"}
    # Only the document itself: no temporary files left behind.
    assert sorted(p.name for p in store.data_dir.iterdir()) == ["front.json"]


def test_save_fsyncs_before_replacing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    def replace(src, dst) -> None:
        calls.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    StateStore(tmp_path, "front").save({"a": 1})
    assert calls[:2] == ["fsync", "replace"]


def test_failed_save_keeps_the_previous_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    store = StateStore(tmp_path, "front")
    store.save({"in": 1})

    def broken_replace(src, dst) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="No space"):
        store.save({"in": 2})
    monkeypatch.undo()
    assert store.load() == {"in": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["front.json"]


def test_unserialisable_document_is_refused_without_touching_the_file(tmp_path: Path):
    store = StateStore(tmp_path, "front")
    store.save({"in": 1})
    with pytest.raises(ValueError):  # noqa: PT011 - json's own message
        store.save({"in": float("nan")})
    assert store.load() == {"in": 1}


@pytest.mark.parametrize(
    "content",
    ["{not json", "", '["a", "list"]', "\x00\x01"],
    ids=["broken", "empty", "list", "binary"],
)
def test_corrupt_file_is_moved_aside_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str
):
    store = StateStore(tmp_path, "front")
    store.path.write_text(content, encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="careon_vision.state"):
        assert store.load() is None
    assert not store.path.exists()
    assert store.corrupt_path.read_text(encoding="utf-8") == content
    assert any(
        record.levelno == logging.ERROR and "front.json.corrupt" in record.getMessage()
        for record in caplog.records
    )
    # The camera goes on: the next save writes a fresh document.
    store.save({"in": 0})
    assert store.load() == {"in": 0}


def test_unreadable_path_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    (tmp_path / "front.json").mkdir()  # a directory where the file should be
    store = StateStore(tmp_path, "front")
    assert store.load() is None
    assert "Cannot read the state of camera front" in caplog.text


def test_corrupt_file_that_cannot_be_moved_is_still_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    store = StateStore(tmp_path, "front")
    store.path.write_text("{oops", encoding="utf-8")

    def refuse(src, dst) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    assert store.load() is None
    assert "could not be moved aside" in caplog.text
    assert store.path.read_text(encoding="utf-8") == "{oops"


def test_save_works_where_directories_cannot_be_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    real_open = os.open

    def no_directories(path, flags, *args, **kwargs):
        if Path(path).is_dir():
            raise IsADirectoryError(21, "Is a directory")
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", no_directories)
    store = StateStore(tmp_path, "front")
    store.save({"in": 5})
    assert store.load() == {"in": 5}
