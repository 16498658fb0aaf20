import pytest

from fqselect.research.dataset import cache_path, read_people, scan
from fqselect.errors import UsageError


def test_read_people_lfw_format_and_plain_lists(tmp_path):
    lfw = tmp_path / "peopleDevTest.txt"
    lfw.write_text("3\nAJ_Lamas\t1\nAaron_Guiel\t2\nAbba_Eban\t1\n")
    assert read_people(lfw) == {"AJ_Lamas", "Aaron_Guiel", "Abba_Eban"}
    numeric = tmp_path / "celeba.txt"
    numeric.write_text("7201\n7202\n\n")
    assert read_people(numeric) == {"7201", "7202"}  # identity names may be numbers
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(UsageError, match="empty"):
        read_people(empty)


def test_cache_key_tells_a_subset_from_the_whole_set(tmp_path):
    assert cache_path(tmp_path, None, "sface") != cache_path(tmp_path, {"7201"}, "sface")
    assert cache_path(tmp_path, {"a", "b"}, "sface") == cache_path(tmp_path, {"b", "a"}, "sface")


def test_scan_keeps_listed_identities_with_two_images(tmp_path):
    for name, count in (("a", 2), ("b", 1), ("c", 3)):
        (tmp_path / name).mkdir()
        for i in range(count):
            (tmp_path / name / f"{i}.jpg").write_bytes(b"")
    assert {identity for identity, _ in scan(tmp_path)} == {"a", "c"}
    assert {identity for identity, _ in scan(tmp_path, {"c"})} == {"c"}
    with pytest.raises(UsageError):
        scan(tmp_path, {"b"})
