import pytest

from hm_annotate.synth import dives


def test_parse_reads_group_direction_somersaults_twists_and_position():
    d = dives.parse("5253B")
    assert (d.code, d.direction, d.half_soms, d.half_twists, d.position, d.armstand) == (
        "5253b",
        2,
        5,
        3,
        "b",
        False,
    )
    a = dives.parse("626c")
    assert (a.direction, a.half_soms, a.half_twists, a.armstand) == (2, 6, 0, True)
    f = dives.parse("107b")
    assert (f.direction, f.half_soms, f.faces_water, f.rotates_forward) == (1, 7, True, True)
    i = dives.parse("407c")
    assert (i.faces_water, i.rotates_forward) == (False, True)


@pytest.mark.parametrize("bad", ["", "107", "12b", "107x", "7253b", "99999c"])
def test_parse_rejects_what_is_not_a_dive_number(bad):
    with pytest.raises(dives.DiveCodeError):
        dives.parse(bad)


def test_difficulty_depends_on_the_apparatus():
    assert dives.difficulty("107b", platform=True) == 3.3
    assert dives.difficulty("107b", platform=False) == 3.1
    with pytest.raises(dives.DiveCodeError, match="626c"):
        dives.difficulty("626c", platform=False)


def test_steps_follow_the_dive():
    assert dives.steps(dives.parse("5253b")) == ["Back", "1.5 Twists", "2.5 Soms.Pike", "Entry"]
    assert dives.steps(dives.parse("5152b")) == ["Forward", "2.5 Soms.Pike", "1 Twist", "Entry"]
    assert dives.steps(dives.parse("626c")) == ["Arm.Back", "3 Soms.Tuck", "Entry"]
    assert dives.steps(dives.parse("307c")) == ["Reverse", "3.5 Soms.Tuck", "Entry"]


def test_sub_action_table_names_every_step_once_with_contiguous_ids():
    table = dives.SUB_ACTION_TYPES
    assert sorted(table) == list(range(len(table)))
    assert len(set(table.values())) == len(table)
    for code in set(dives.PLATFORM_DD) | set(dives.SPRINGBOARD_DD):
        for step in dives.steps(dives.parse(code)):
            assert table[dives.SUB_ACTION_IDS[step]] == step
