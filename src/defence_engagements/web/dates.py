"""Dates at the precision the source gives: xsd:date, xsd:gYearMonth, xsd:gYear."""

from __future__ import annotations

import re

XSD = "http://www.w3.org/2001/XMLSchema#"
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def format_date(lexical: str, datatype: str | None) -> str:
    """``2024-03-11``/xsd:date → "11 March 2024"; gYearMonth → "February 2024"; gYear → "2024"."""
    match = re.fullmatch(r"(-?\d{4,})(?:-(\d{2}))?(?:-(\d{2}))?(.*)", lexical.strip())
    if not match:
        return lexical
    year, month, day, _zone = match.groups()
    if datatype == XSD + "gYear" or month is None:
        return year
    month_name = _MONTHS[int(month) - 1] if 1 <= int(month) <= 12 else month
    if datatype == XSD + "gYearMonth" or day is None:
        return f"{month_name} {year}"
    return f"{int(day)} {month_name} {year}"


def format_range(
    start: str | None, start_type: str | None, end: str | None, end_type: str | None
) -> str:
    if not start:
        return "date not stated"
    first = format_date(start, start_type)
    if not end or end == start:
        return first
    return f"{first} – {format_date(end, end_type)}"


def year_of(lexical: str | None) -> str | None:
    match = re.match(r"-?\d{4,}", lexical or "")
    return match.group(0) if match else None
