"""Seniority derived from a free-text job title.

Pure module: no ORM, no Django. The highest level whose pattern appears in the
title wins ("Founder & Head of Product" is c_level); titles that describe
someone working *for* an executive ("Assistant to the CEO", "CEO Assistant")
are individual contributors.
"""

from __future__ import annotations

import re

SENIORITY_CHOICES: tuple[tuple[str, str], ...] = (
    ("c_level", "C-level"),
    ("vp", "VP"),
    ("director", "Director"),
    ("manager", "Manager"),
    ("individual", "Individual contributor"),
    ("unknown", "Unknown"),
)
SENIORITY_LABELS: dict[str, str] = dict(SENIORITY_CHOICES)

# Everything after "to", "for" or "of the" names who or what the role serves,
# not the role itself: "Advisor to the CEO", "VP for EMEA", "Office of the President".
_QUALIFIER = re.compile(r"\b(?:to|for|of\s+the)\b.*$", re.IGNORECASE)

# A support role keeps its own level unless it qualifies a rank
# ("Assistant Director" is a director, "CEO Assistant" is not).
_SUPPORT_ROLE = re.compile(
    r"\b(?:assistant|secretary|intern|ea)\b"
    r"(?!\s+(?:director|manager|vice[\s-]+president|vp|head)\b)",
    re.IGNORECASE,
)

_C_LEVEL_TITLES = "ceo|cfo|cto|coo|cmo|cio|cro|cpo|cso|ciso|cdo|cco|chro|cxo|cao"
_LEVELS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "c_level",
        re.compile(
            rf"\b(?:{_C_LEVEL_TITLES})\b"
            r"|\bchief\b(?!\s+of\s+staff)"
            r"|\b(?:co-?)?founder\b"
            r"|(?<!product\s)\bowner\b"
            r"|(?<!vice\s)(?<!vice-)\bpresident\b"
            r"|\bchair(?:man|woman|person)?\b"
            r"|\bmanaging\s+director\b",
            re.IGNORECASE,
        ),
    ),
    (
        "vp",
        re.compile(r"\b(?:vp|svp|evp|avp|vice[\s-]+president)\b", re.IGNORECASE),
    ),
    (
        "director",
        re.compile(r"\b(?:director|dir|head|chief\s+of\s+staff)\b", re.IGNORECASE),
    ),
    (
        "manager",
        re.compile(
            r"\b(?:manager|mgr|supervisor)\b"
            # "Lead Generation Specialist" works on leads; it does not lead anyone.
            r"|\blead\b(?!\s+(?:gen|generation|development|qualification|nurturing"
            r"|management|scoring|routing)\b)",
            re.IGNORECASE,
        ),
    ),
)


def derive_seniority(title: str | None) -> str:
    """One of the SENIORITY_CHOICES values for a job title; "unknown" when there is none."""
    if title is None or not title.strip():
        return "unknown"
    role = _QUALIFIER.sub("", title).strip()
    if not role or _SUPPORT_ROLE.search(role):
        return "individual"
    for level, pattern in _LEVELS:
        if pattern.search(role):
            return level
    return "individual"
