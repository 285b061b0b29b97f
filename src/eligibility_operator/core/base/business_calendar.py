"""First-response due times: wall-clock hours, or business hours in the agreement's calendar. Pure.

Business hours are 09:00-17:00 local time, Monday to Friday, excluding the public
holidays of the agreement's ``holidayCalendar`` (the ``holidays`` package), in the
agreement's ``timeZone`` (``zoneinfo``). Each business day's window is placed in
local time and converted to UTC on its own, so a daylight-saving change between
the start and the due time is counted correctly. Wall-clock targets (Premium's
"1 hour") are elapsed time and ignore the calendar.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    import holidays

BUSINESS_START = dt.time(9, 0)
BUSINESS_END = dt.time(17, 0)
BUSINESS_DAY_HOURS = 8  # "1 business day" is one 8x5 day's worth of business hours
_MAX_DAYS = 3 * 366  # a target longer than three years of business days is refused, not looped over
_TARGET = re.compile(
    r"^\s*(?P<n>\d{1,4}(?:\.\d{1,2})?)\s*(?P<business>business\s+)?(?P<unit>minutes?|mins?|hours?|h|days?)\s*$",
    re.IGNORECASE,
)


class CalendarError(ValueError):
    """A time zone, holiday calendar or target that cannot be used; the message names the problem."""


@dataclass(frozen=True, slots=True)
class Target:
    """A first-response target: an amount of elapsed time, or of business time."""

    minutes: int
    business: bool
    text: str


def parse_target(text: str) -> Target:
    """'1 hour', '30 minutes', '8 business hours', '1 business day' -> Target."""
    match = _TARGET.match(text)
    if match is None:
        raise CalendarError(
            f"{text!r} is not a target like '30 minutes', '4 hours', '8 business hours' or '1 business day'"
        )
    amount = float(match["n"])
    unit = match["unit"].lower()
    business = bool(match["business"])
    if unit.startswith("min"):
        minutes = amount
    elif unit.startswith("h"):
        minutes = amount * 60
    else:  # days: business days are 8 business hours; plain days are 24 hours
        minutes = amount * (BUSINESS_DAY_HOURS if business else 24) * 60
    if minutes <= 0:
        raise CalendarError(f"{text!r} is not a positive duration")
    return Target(minutes=round(minutes), business=business, text=text.strip())


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CalendarError(f"{name!r} is not an IANA time zone (e.g. Europe/Berlin, America/New_York)") from exc


@lru_cache(maxsize=64)
def holiday_calendar(code: str) -> holidays.HolidayBase:
    """Public holidays for ``CC`` or ``CC-SUBDIV`` (ISO 3166), e.g. DE, DE-BY, US-CA."""
    import holidays  # here, not at the top: about 10 MiB, needed only once an agreement names a calendar

    country, _, subdiv = code.partition("-")
    try:
        return holidays.country_holidays(country, subdiv=subdiv or None)
    except NotImplementedError as exc:
        raise CalendarError(f"{code!r}: the holidays package has no calendar for country {country!r}") from exc
    except ValueError as exc:  # unknown subdivision
        raise CalendarError(f"{code!r}: {exc}") from exc


def check_calendar(time_zone: str, holiday_code: str | None) -> list[str]:
    """Problems with an agreement's calendar settings, each naming the field."""
    problems = []
    try:
        zone(time_zone)
    except CalendarError as exc:
        problems.append(f"spec.agreement.timeZone: {exc}")
    if holiday_code:
        try:
            holiday_calendar(holiday_code)
        except CalendarError as exc:
            problems.append(f"spec.agreement.holidayCalendar: {exc}")
    return problems


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    time_zone: str = "UTC"
    holiday_code: str | None = None

    def describe(self) -> str:
        hours = f"Mon-Fri {BUSINESS_START:%H:%M}-{BUSINESS_END:%H:%M} {self.time_zone}"
        return hours + (f", public holidays {self.holiday_code}" if self.holiday_code else "")

    def is_business_day(self, day: dt.date) -> bool:
        if day.weekday() >= 5:
            return False
        return not (self.holiday_code and day in holiday_calendar(self.holiday_code))

    def add_business_minutes(self, start: dt.datetime, minutes: int) -> dt.datetime:
        """``start`` plus ``minutes`` of business time; the result is in UTC."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        tz = zone(self.time_zone)
        remaining = dt.timedelta(minutes=minutes)
        cursor = start.astimezone(dt.UTC)
        day = cursor.astimezone(tz).date()
        for _ in range(_MAX_DAYS * 2):
            if self.is_business_day(day):
                opens = dt.datetime.combine(day, BUSINESS_START, tz).astimezone(dt.UTC)
                closes = dt.datetime.combine(day, BUSINESS_END, tz).astimezone(dt.UTC)
                begin = max(cursor, opens)
                if begin < closes:
                    if begin + remaining <= closes:
                        return begin + remaining
                    remaining -= closes - begin
            day += dt.timedelta(days=1)
        raise CalendarError(f"no {minutes} business minutes within {_MAX_DAYS} days of {start.isoformat()}")

    def due(self, start: dt.datetime, target: Target) -> dt.datetime:
        """When a first response with ``target`` is due for a request opened at ``start`` (UTC)."""
        if target.business:
            return self.add_business_minutes(start, target.minutes)
        return start.astimezone(dt.UTC) + dt.timedelta(minutes=target.minutes)
