"""The Lua/state layer against a real Redis."""

import pytest

from board.models import Board
from board.store import state
from board.store.state import Status
from tests.boards import bit

pytestmark = pytest.mark.postgres


@pytest.fixture
def board(db):
    return Board.objects.create(slug="lua", size=20)


def test_a_new_board_starts_empty_at_version_zero(board):
    bits, meta = state.read(board)
    assert bits == bytes(3)
    assert (meta.size, meta.count, meta.version, meta.frozen) == (20, 0, 0, False)
    assert meta.epoch > 0


def test_setting_a_box_sets_its_bit_msb_first(board):
    result = state.apply(board, [(0, 1), (9, 1)])
    bits, meta = state.read(board)
    assert result.statuses == [Status.APPLIED, Status.APPLIED]
    assert bits[:2] == bytes([0x80, 0x40])
    assert (meta.count, meta.version) == (2, 2)


def test_applied_changes_take_consecutive_versions(board):
    state.apply(board, [(1, 1)])
    result = state.apply(board, [(2, 1), (2, 1), (3, 1), (2, 0)])
    assert result.from_version == 1
    assert result.statuses == [Status.APPLIED, Status.UNCHANGED, Status.APPLIED, Status.APPLIED]
    assert result.versions() == [2, 2, 3, 4]
    assert result.to_version == 4


def test_setting_a_box_to_its_current_value_changes_nothing(board):
    state.apply(board, [(5, 1)])
    before = state.meta(board)
    result = state.apply(board, [(5, 1), (6, 0)])
    after = state.meta(board)
    assert result.statuses == [Status.UNCHANGED, Status.UNCHANGED]
    assert (after.version, after.count) == (before.version, before.count)


def test_count_goes_down_when_a_box_is_unchecked(board):
    state.apply(board, [(4, 1), (5, 1)])
    state.apply(board, [(4, 0)])
    meta = state.meta(board)
    assert meta.count == 1
    assert meta.version == 3
    assert bit(board.slug, 4) == 0


def test_a_frozen_board_refuses_every_change(board):
    state.set_frozen(board, True)
    result = state.apply(board, [(1, 1), (2, 1)])
    assert result.statuses == [Status.FROZEN, Status.FROZEN]
    assert bit(board.slug, 1) == 0
    assert state.meta(board).version == 0
    state.set_frozen(board, False)
    assert state.apply(board, [(1, 1)]).statuses == [Status.APPLIED]


@pytest.mark.parametrize("index", [-1, 20, 21, 10**12])
def test_an_index_outside_the_board_is_refused(board, index):
    result = state.apply(board, [(index, 1)])
    assert result.statuses == [Status.OUT_OF_RANGE]
    assert state.meta(board).version == 0
    assert state.sync_client().strlen(state.keys(board.slug)[0]) == 3


def test_a_value_other_than_zero_or_one_is_refused(board):
    assert state.apply(board, [(3, 2)]).statuses == [Status.BAD_VALUE]
    assert state.meta(board).version == 0


def test_a_change_to_a_board_with_no_state_initialises_it_first(board):
    result = state.apply(board, [(1, 1)])
    assert result.statuses == [Status.APPLIED]
    assert state.meta(board).size == 20


def test_the_state_is_initialised_exactly_once(board):
    assert state.ensure(board) is True
    state.apply(board, [(1, 1)])
    assert state.ensure(board) is False
    assert state.meta(board).count == 1


def test_initialising_takes_the_frozen_flag_from_the_board(db):
    frozen = Board.objects.create(slug="ice", size=8, frozen=True)
    assert state.meta(frozen).frozen is True


def test_replacing_the_bitset_changes_the_epoch_and_bumps_the_version(board):
    state.apply(board, [(1, 1)])
    before = state.meta(board)
    swap = state.replace(board, bytes([0xFF, 0x00, 0xFF]))
    bits, after = state.read(board)
    assert swap.old == before
    assert swap.old_bits == bytes([0x40, 0, 0])
    assert swap.new == after
    assert after.epoch != before.epoch
    assert after.version == before.version + 1
    # Bits past box 19 are padding and are cleared.
    assert bits == swap.new_bits == bytes([0xFF, 0x00, 0xF0])
    assert after.count == 12


def test_a_replace_expecting_an_older_version_changes_nothing(board):
    first = state.replace(board, bytes(3))
    state.apply(board, [(1, 1)])
    with pytest.raises(state.StateMoved):
        state.replace(board, bytes([0xFF, 0, 0]), expect=first.new)
    assert state.read(board)[0] == bytes([0x40, 0, 0])


def test_replacing_with_the_wrong_length_changes_nothing(board):
    state.apply(board, [(1, 1)])
    with pytest.raises(ValueError):
        state.replace(board, bytes(4))
    assert state.read(board)[0] == bytes([0x40, 0, 0])


def test_an_unreachable_redis_is_a_named_error(board, settings):
    from tests.conftest import use_redis

    use_redis("redis://127.0.0.1:1/0")
    with pytest.raises(state.StateUnavailable):
        state.apply(board, [(1, 1)])


def test_boards_do_not_share_state(db):
    one = Board.objects.create(slug="one", size=16)
    two = Board.objects.create(slug="two", size=16)
    state.meta(one)
    state.meta(two)
    state.apply(one, [(3, 1)])
    assert state.read(two)[0] == bytes(2)
    assert state.meta(two).version == 0
