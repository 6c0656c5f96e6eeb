"""Working days and calendar-anchored dates as pure functions over data the workflow carries.

The statutory calendar (China's holidays with their 调休 makeup working days, and an
administrator's override files) is read outside the workflow, by `activities.workcalendar`,
and handed to the workflow as `CalendarData`: one 'W'/'H' character per day of each year, plus
whether that year is confirmed (published) or guessed. Deadline arithmetic then needs no
activity, and replay never depends on a library's data: the days are in the history.

Days of a year the data does not hold count Monday to Friday and make the result provisional,
like the days of a guessed year.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from workflows.model import CHINA_TZ, CalendarData, Deadline


def is_working_day(cal: CalendarData, day: date) -> tuple[bool, bool]:
    """(working?, confirmed?) for `day`."""
    year = cal.years.get(day.year)
    if year is None:
        return day.weekday() < 5, False
    return year.days[day.timetuple().tm_yday - 1] == "W", year.confirmed


def china_date(dt: datetime) -> date:
    return dt.astimezone(CHINA_TZ).date()


def end_of_day(dt: datetime) -> datetime:
    """24:00 China time of the day of `dt` (= 00:00 of the next day)."""
    return datetime.combine(china_date(dt) + timedelta(days=1), time(0), CHINA_TZ)


def add_working_days(cal: CalendarData, start: datetime, n: int) -> tuple[datetime, bool]:
    """The same China clock time `n` working days after `start` (n < 0: before), and whether
    any day counted is not confirmed (the result is then provisional)."""
    local = start.astimezone(CHINA_TZ)
    day, step, remaining, provisional = local.date(), (1 if n >= 0 else -1), abs(n), False
    while remaining:
        day += timedelta(days=step)
        working, confirmed = is_working_day(cal, day)
        provisional = provisional or not confirmed
        if working:
            remaining -= 1
    return datetime.combine(day, local.timetz()), provisional


def month_day_on_or_after(start: datetime, day: int) -> datetime:
    """End of the first `day`-th of a month on or after the date of `start` ("by the 10th");
    a month without that day uses its last day."""
    local = china_date(start)
    year, month = local.year, local.month
    while True:
        candidate = date(year, month, min(day, _month_length(year, month)))
        if candidate >= local:
            return end_of_day(datetime.combine(candidate, time(12), CHINA_TZ))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def before_month_end(start: datetime, days: int) -> datetime:
    """End of the day `days` days before the last day of the month of `start` ("2 days before
    month end"); if that day has passed, the same day of the next month."""
    local = china_date(start)
    year, month = local.year, local.month
    while True:
        candidate = date(year, month, _month_length(year, month)) - timedelta(days=days)
        if candidate >= local:
            return end_of_day(datetime.combine(candidate, time(12), CHINA_TZ))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def add_months(start: datetime, months: int) -> datetime:
    """`start` moved by whole months; a day the target month lacks becomes its last day."""
    y, m = divmod(start.month - 1 + months, 12)
    year, month = start.year + y, m + 1
    return start.replace(year=year, month=month, day=min(start.day, _month_length(year, month)))


def _month_length(year: int, month: int) -> int:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def due_after(cal: CalendarData, start: datetime, rule: Deadline) -> tuple[datetime, bool]:
    """The due time `rule` after `start`, and whether it is provisional."""
    provisional = False
    if rule.month_day is not None:
        return month_day_on_or_after(start, rule.month_day), False
    if rule.before_month_end is not None:
        return before_month_end(start, rule.before_month_end), False
    if rule.working_days:
        due, provisional = add_working_days(cal, start, rule.working_days)
    else:
        due = add_months(start, rule.months) + rule.wall if rule.months else start + rule.wall
    if rule.end_of_day:
        due = end_of_day(due)
    return due, provisional


def lead_before(cal: CalendarData, due: datetime, lead: Deadline) -> datetime:
    """`lead` before `due` (a reminder): wall-clock or working days."""
    if lead.working_days:
        return add_working_days(cal, due, -lead.working_days)[0]
    return add_months(due, -lead.months) - lead.wall if lead.months else due - lead.wall
