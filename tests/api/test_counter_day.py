"""A counter's day runs from local midnight to local midnight in the operator's time zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from api.services.payments import day_bounds
from api.settings import Settings

BERLIN = ZoneInfo("Europe/Berlin")


def test_a_winter_day_in_berlin_starts_at_23_utc_the_evening_before() -> None:
    assert day_bounds(date(2026, 12, 6), BERLIN) == (datetime(2026, 12, 5, 23), datetime(2026, 12, 6, 23))


def test_the_days_the_clocks_change_have_23_and_25_hours() -> None:
    spring = day_bounds(date(2026, 3, 29), BERLIN)
    autumn = day_bounds(date(2026, 10, 25), BERLIN)
    assert spring == (datetime(2026, 3, 28, 23), datetime(2026, 3, 29, 22))
    assert autumn == (datetime(2026, 10, 24, 22), datetime(2026, 10, 25, 23))


def test_a_utc_operator_keeps_utc_days() -> None:
    assert day_bounds(date(2026, 12, 6), ZoneInfo("UTC")) == (datetime(2026, 12, 6), datetime(2026, 12, 7))


def test_the_time_zone_setting_defaults_to_berlin_and_refuses_unknown_names() -> None:
    assert Settings(environment="test").zone == BERLIN
    with pytest.raises(ValidationError, match="IANA time zone"):
        Settings(environment="test", timezone="Mars/Olympus_Mons")
