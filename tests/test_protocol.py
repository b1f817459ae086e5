"""The wire format of docs/protocol.md, byte for byte."""

import pytest

from board.live import protocol
from board.live.protocol import Ack, FrameError, Ping, SetBox
from harness.replica import Replica


def test_the_worked_example_in_the_protocol_doc():
    assert protocol.encode_set(9, 1).hex() == "010000000901"
    result = protocol.encode_results([(9, 1, 0, 1)], epoch=77)
    assert result.hex() == "02" + "0000004d" + "00000009" + "01" + "00" + "0000000000000001"
    assert protocol.decode_results(result) == (77, [(9, 1, 0, 1)])
    update = protocol.UPDATE_PREFIX + protocol.encode_run(77, 0, [(9, 1)])
    assert update.hex() == "01" + "0000004d" + "0000000000000000" + "0001" + "00000013"
    replica = Replica(16)
    replica.load(bytes(2), 77, 0)
    replica.update(update)
    assert bytes(replica.bits).hex() == "0040"
    assert replica.version == 1


def test_an_update_round_trips_with_several_runs():
    frame = protocol.UPDATE_PREFIX + protocol.encode_run(5, 10, [(1, 1), (2, 0)]) + protocol.encode_run(5, 12, [])
    assert protocol.decode_update(frame) == [(5, 10, [(1, 1), (2, 0)]), (5, 12, [])]


def test_an_ack_is_five_bytes_and_wraps_at_two_to_the_32():
    assert protocol.encode_ack(2**32 + 3) == bytes([0x02, 0, 0, 0, 3])
    assert protocol.parse(bytes_data=protocol.encode_ack(7)) == Ack(7)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"type": "set", "index": 3, "value": 1}', SetBox(3, 1)),
        ('{"type": "ack", "frames": 12}', Ack(12)),
        ('{"type": "ping", "token": [1, "a"]}', Ping([1, "a"])),
        ('{"type": "ping"}', Ping(None)),
    ],
)
def test_json_frames_parse(text, message):
    assert protocol.parse(text_data=text) == message


def test_a_binary_set_parses_without_range_checks():
    # Ranges depend on the board and are the consumer's to check.
    assert protocol.parse(bytes_data=protocol.SET_FRAME.pack(1, 2**32 - 1, 9)) == SetBox(2**32 - 1, 9)


def test_the_size_limit_applies_to_text_and_binary():
    with pytest.raises(FrameError) as error:
        protocol.parse(text_data="x" * 600, max_bytes=512)
    assert error.value.code == "frame_too_large"
    with pytest.raises(FrameError):
        protocol.parse(bytes_data=bytes(513), max_bytes=512)


def test_replica_waits_for_a_missing_run_then_applies_both_in_order():
    replica = Replica(8)
    replica.load(bytes(1), 1, 0)
    second = protocol.UPDATE_PREFIX + protocol.encode_run(1, 1, [(0, 0)])
    first = protocol.UPDATE_PREFIX + protocol.encode_run(1, 0, [(0, 1)])
    replica.update(second)
    assert replica.behind and replica.version == 0
    replica.update(first)
    assert not replica.behind
    assert replica.version == 2
    assert replica.get(0) == 0


def test_replica_skips_the_part_of_a_run_its_state_already_holds():
    replica = Replica(8)
    replica.load(bytes([0x80]), 1, 1)  # already holds version 1: box 0 set
    replica.update(protocol.UPDATE_PREFIX + protocol.encode_run(1, 0, [(0, 1), (0, 0), (1, 1)]))
    assert replica.version == 3
    assert bytes(replica.bits) == bytes([0x40])


def test_a_result_of_refusals_only_has_epoch_zero_and_fourteen_bytes_an_entry():
    frame = protocol.encode_results([(1, 1, 6, 0), (2, 0, 7, 0)])
    assert len(frame) == 5 + 2 * 14
    assert protocol.decode_results(frame) == (0, [(1, 1, 6, 0), (2, 0, 7, 0)])


def test_a_full_batch_fits_the_largest_server_frame():
    batch = protocol.MAX_BATCH
    assert len(protocol.encode_results([(0, 1, 0, 1)] * batch, epoch=1)) <= protocol.MAX_SERVER_FRAME
    run = protocol.encode_run(1, 0, [(2**31 - 1, 1)] * batch)
    assert len(protocol.UPDATE_PREFIX + run) <= protocol.MAX_SERVER_FRAME


def test_updates_are_split_into_frames_of_at_most_64_kib_without_splitting_a_run():
    runs = [protocol.encode_run(3, 1000 * k, [(k, 1)] * 1000) for k in range(40)]
    frames = protocol.update_frames(runs)
    assert len(frames) > 1
    assert all(len(frame) <= protocol.MAX_SERVER_FRAME for frame in frames)
    decoded = [run for frame in frames for run in protocol.decode_update(frame)]
    assert decoded == [(3, 1000 * k, [(k, 1)] * 1000) for k in range(40)]


def test_no_runs_make_no_update():
    assert protocol.update_frames([]) == []
