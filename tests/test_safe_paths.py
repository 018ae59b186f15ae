import pytest

from hm_annotate.safe_paths import UnsafePathError, check_video_id, inside


@pytest.mark.parametrize(
    "bad", ["../x", "a/../../b", "/etc/x", "a//b", "a/./b", "a/", "", "a\x00b", "a\nb", "a\\..\\b", "..", 7]
)
def test_unsafe_video_ids_are_refused(bad):
    with pytest.raises(UnsafePathError):
        check_video_id(bad)


def test_real_ids_pass():
    for vid in ("FINADivingWorldCup2021_Men3m_final_r1/8", "diving/001", "01/3", "clip0", "a b/c.d"):
        assert check_video_id(vid) == vid


def test_inside_refuses_symlinks_out_of_the_root(tmp_path):
    root, outside = tmp_path / "out", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (root / "v").symlink_to(outside)
    assert inside(root, "a/00001.png") == (root / "a/00001.png").resolve()
    with pytest.raises(UnsafePathError, match="outside"):
        inside(root, "v/00001.png")
