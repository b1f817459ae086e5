"""Moments and durations as moderators type them: every bad one is a sentence, never a 500."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from board.history.moments import parse_duration, parse_moment

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("now", NOW),
        ("90s", NOW - timedelta(seconds=90)),
        ("2w", NOW - timedelta(weeks=2)),
        ("2025-01-03T18:00", datetime(2025, 1, 3, 18, 0, tzinfo=UTC)),
        ("2025-01-03T20:00+02:00", datetime(2025, 1, 3, 18, 0, tzinfo=UTC)),
        ("1970-01-01", datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_moment_is_now_a_time_ago_or_a_date(text, moment):
    assert parse_moment(text, NOW) == moment


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9999999d", "longer than 100 years"),
        ("9999999w", "longer than 100 years"),
        ("99999999d", "is not a duration"),
        ("36500d", "before 1970"),
        ("1969-12-31T23:59", "before 1970"),
        ("0001-01-01", "before 1970"),
        ("0001-01-01T00:00+05:00", "is not a time"),
        ("9999-12-31T23:59-05:00", "is not a time"),
        ("whenever", "is not a time"),
    ],
)
def test_a_moment_out_of_reach_is_a_value_error_with_a_sentence(text, message):
    with pytest.raises(ValueError, match=message):
        parse_moment(text, NOW)


def test_a_duration_of_zero_is_refused():
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration("0d")


@pytest.mark.django_db
@pytest.mark.parametrize("since", ["9999999d", "36500d", "1900-01-01", "0001-01-01T00:00+05:00"])
def test_the_admin_answers_a_moment_out_of_reach_with_a_form_error(moderator_client, main_board, since):
    page = reverse("admin:board_board_changes", args=[main_board.pk])

    response = moderator_client.get(page, {"network": "198.51.100.1", "since": since})

    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
