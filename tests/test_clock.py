"""The test session's movable clock (`--as-of`): the instants it picks and the processes it reaches."""

import subprocess
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.support import clock
from tests.support.processes import ROOT, python_argv

NOW = datetime(2026, 12, 3, 10, 5, tzinfo=UTC)  # pinned: a Thursday


def test_hard_instants_are_the_awkward_days_ahead_of_now():
    instants = clock.hard_instants(NOW)
    assert all(instant > NOW for instant in instants.values())
    monday = instants["monday-0030"]
    assert (monday.weekday(), monday.hour, monday.minute) == (0, 0, 30)
    assert instants["quarter-end"] == datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert instants["leap-day"].date().isoformat() == "2028-02-29"
    for name, zone in (("dst-sydney", "Australia/Sydney"), ("dst-new-york", "America/New_York")):
        tz = ZoneInfo(zone)
        at = instants[name]
        assert at.astimezone(tz).utcoffset() != (at - timedelta(hours=1)).astimezone(tz).utcoffset()
    everyday = instants["everyday"]
    assert everyday - NOW > timedelta(days=400) and everyday.weekday() == 0


def test_an_instant_without_its_offset_is_refused():
    with pytest.raises(ValueError, match="UTC offset"):
        clock.parse_instant("2028-02-29T00:30")
    assert clock.parse_instant("2028-02-29T00:30Z") == datetime(2028, 2, 29, 0, 30, tzinfo=UTC)


def test_a_process_the_tests_start_runs_on_the_session_clock(tmp_path, monkeypatch):
    real_now = datetime.now(UTC) - timedelta(seconds=clock.offset_seconds())
    year = timedelta(days=365)
    monkeypatch.setenv(clock.OFFSET_ENV, repr(year.total_seconds()))
    script = tmp_path / "now.py"
    script.write_text("from datetime import UTC, datetime\nprint(datetime.now(UTC).isoformat())\n")
    out = subprocess.run(
        python_argv(str(script)), cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    child_now = datetime.fromisoformat(out.strip())
    assert abs(child_now - (real_now + year)) < timedelta(minutes=1)
