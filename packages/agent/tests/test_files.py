from pathlib import Path

import pytest
from automem_agent import write_bytes_atomic, write_json_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "run" / "proposal.json"
    write_json_atomic(target, {"recipe": "old"})
    old = target.read_bytes()

    def crash(fd: int) -> None:  # dies after writing the bytes, before the rename
        raise OSError("disk gone")

    monkeypatch.setattr("automem_agent._files.os.fsync", crash)
    with pytest.raises(OSError, match="disk gone"):
        write_bytes_atomic(target, b'{"recipe": "new, half-wri')
    assert target.read_bytes() == old
    assert sorted(p.name for p in target.parent.iterdir()) == ["proposal.json"]
