"""First-response due times: weekends, public holidays, daylight-saving changes, wall-clock targets."""

from __future__ import annotations

import datetime as dt

import pytest

from eligibility_operator.core.base.business_calendar import (
    BusinessCalendar,
    CalendarError,
    check_calendar,
    parse_target,
)

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("text", "minutes", "business"),
    [
        ("1 hour", 60, False),
        ("2 hours", 120, False),
        ("30 minutes", 30, False),
        ("8 business hours", 480, True),
        ("24 business hours", 1440, True),
        ("1 business day", 480, True),
        ("1 day", 1440, False),
        ("1.5 hours", 90, False),
    ],
)
def test_targets_parse(text: str, minutes: int, business: bool) -> None:
    target = parse_target(text)
    assert (target.minutes, target.business) == (minutes, business)


@pytest.mark.parametrize("text", ["soon", "0 hours", "", "8 fortnights", "-1 hour"])
def test_bad_targets_are_refused_with_the_text(text: str) -> None:
    with pytest.raises(CalendarError, match="not a"):
        parse_target(text)


def test_within_one_business_day() -> None:
    cal = BusinessCalendar("UTC")
    # Tuesday 2026-06-02 10:00 + 4 business hours = 14:00 the same day.
    assert cal.due(at("2026-06-02T10:00:00+00:00"), parse_target("4 business hours")) == at("2026-06-02T14:00:00+00:00")


def test_after_hours_starts_next_morning() -> None:
    cal = BusinessCalendar("UTC")
    # Tuesday 20:30 is after hours: 1 business hour from Wednesday 09:00.
    assert cal.due(at("2026-06-02T20:30:00+00:00"), parse_target("1 business hour")) == at("2026-06-03T10:00:00+00:00")


def test_standard_p1_across_a_weekend() -> None:
    """Friday 15:00 + 8 business hours: 2 h on Friday, 6 h on Monday -> Monday 15:00."""
    cal = BusinessCalendar("Europe/Berlin")
    friday = dt.datetime(2026, 6, 5, 15, 0, tzinfo=cal_zone("Europe/Berlin"))
    due = cal.due(friday, parse_target("8 business hours"))
    assert due == dt.datetime(2026, 6, 8, 15, 0, tzinfo=cal_zone("Europe/Berlin")).astimezone(UTC)


def test_filed_on_saturday_counts_from_monday_morning() -> None:
    cal = BusinessCalendar("UTC")
    assert cal.due(at("2026-06-06T11:00:00+00:00"), parse_target("12 business hours")) == at(
        "2026-06-09T13:00:00+00:00"
    )


def test_public_holiday_is_skipped() -> None:
    """Whit Monday (Pfingstmontag) 2026-05-25 is a public holiday in Germany, not in the US."""
    start = dt.datetime(2026, 5, 22, 15, 0, tzinfo=cal_zone("Europe/Berlin"))  # Friday
    german = BusinessCalendar("Europe/Berlin", "DE").due(start, parse_target("8 business hours"))
    no_holidays = BusinessCalendar("Europe/Berlin").due(start, parse_target("8 business hours"))
    assert no_holidays == dt.datetime(2026, 5, 25, 15, 0, tzinfo=cal_zone("Europe/Berlin")).astimezone(UTC)
    assert german == dt.datetime(2026, 5, 26, 15, 0, tzinfo=cal_zone("Europe/Berlin")).astimezone(UTC)


def test_regional_holiday_needs_the_subdivision() -> None:
    """Corpus Christi (2026-06-04) is a holiday in Bavaria, not in Berlin."""
    start = dt.datetime(2026, 6, 3, 16, 0, tzinfo=cal_zone("Europe/Berlin"))  # Wednesday
    target = parse_target("2 business hours")
    bavaria = BusinessCalendar("Europe/Berlin", "DE-BY").due(start, target)
    berlin = BusinessCalendar("Europe/Berlin", "DE-BE").due(start, target)
    assert berlin == dt.datetime(2026, 6, 4, 10, 0, tzinfo=cal_zone("Europe/Berlin")).astimezone(UTC)
    assert bavaria == dt.datetime(2026, 6, 5, 10, 0, tzinfo=cal_zone("Europe/Berlin")).astimezone(UTC)


def test_daylight_saving_change_over_the_weekend() -> None:
    """Europe/Berlin moves from UTC+1 to UTC+2 on 2026-03-29: Friday 15:00 CET + 8 business hours
    is Monday 15:00 CEST, which is 13:00 UTC (not 14:00 UTC, which naive UTC arithmetic would give)."""
    cal = BusinessCalendar("Europe/Berlin")
    friday = at("2026-03-27T14:00:00+00:00")  # 15:00 CET
    assert cal.due(friday, parse_target("8 business hours")) == at("2026-03-30T13:00:00+00:00")


def test_daylight_saving_change_in_new_york() -> None:
    """America/New_York falls back on 2026-11-01: Friday 16:00 EDT + 2 business hours = Monday 10:00 EST."""
    cal = BusinessCalendar("America/New_York")
    assert cal.due(at("2026-10-30T20:00:00+00:00"), parse_target("2 business hours")) == at("2026-11-02T15:00:00+00:00")


def test_wall_clock_targets_ignore_weekends_and_zones() -> None:
    cal = BusinessCalendar("Europe/Berlin", "DE")
    saturday_night = at("2026-03-29T00:30:00+00:00")  # across the DST change, on a weekend
    assert cal.due(saturday_night, parse_target("1 hour")) == at("2026-03-29T01:30:00+00:00")


def test_long_target_spans_weeks() -> None:
    cal = BusinessCalendar("UTC")
    # 24 business hours = 3 business days: Monday 09:00 -> Wednesday 17:00.
    assert cal.due(at("2026-06-01T09:00:00+00:00"), parse_target("24 business hours")) == at(
        "2026-06-03T17:00:00+00:00"
    )


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        BusinessCalendar("UTC").add_business_minutes(dt.datetime(2026, 6, 1, 9), 60)


def test_calendar_problems_name_the_field() -> None:
    assert check_calendar("Europe/Berlin", "DE-BY") == []
    problems = check_calendar("Mars/Olympus", "XX")
    assert problems[0].startswith("spec.agreement.timeZone: 'Mars/Olympus'")
    assert problems[1].startswith("spec.agreement.holidayCalendar: 'XX'")
    assert check_calendar("UTC", "DE-ZZ")[0].startswith("spec.agreement.holidayCalendar: 'DE-ZZ'")


def cal_zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)
