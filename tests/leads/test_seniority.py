"""Seniority derived from job titles."""

import pytest

from apps.leads.seniority import SENIORITY_CHOICES, derive_seniority


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("CEO", "c_level"),
        ("cfo", "c_level"),
        ("Co-Founder & CTO", "c_level"),
        ("Founder", "c_level"),
        ("Chief Revenue Officer", "c_level"),
        ("President", "c_level"),
        ("Owner", "c_level"),
        ("Managing Director, UK", "c_level"),
        ("Founder & Head of Product", "c_level"),
        ("VP Marketing", "vp"),
        ("Vice President of Sales", "vp"),
        ("Senior Vice-President, Finance", "vp"),
        ("SVP Engineering", "vp"),
        ("EVP, Operations", "vp"),
        ("VP of the Americas", "vp"),
        ("Assistant Vice President", "vp"),
        ("Director of Demand Generation", "director"),
        ("Head of Growth", "director"),
        ("Sr. Director, Sales", "director"),
        ("Assistant Director", "director"),
        ("Chief of Staff", "director"),
        ("Chief of Staff to the CEO", "director"),
        ("Marketing Manager", "manager"),
        ("Team Lead, Support", "manager"),
        ("Lead Engineer", "manager"),
        ("Assistant Manager", "manager"),
        ("Assistant to the CEO", "individual"),
        ("Executive Assistant to the CFO", "individual"),
        ("CEO Assistant", "individual"),
        ("Advisor to the President", "individual"),
        ("Office of the CTO", "individual"),
        ("Lead Generation Specialist", "individual"),
        ("Product Owner", "individual"),
        ("Software Engineer", "individual"),
        ("Directory Services Analyst", "individual"),
        ("Microservices Engineer", "individual"),
        ("", "unknown"),
        ("   ", "unknown"),
        (None, "unknown"),
    ],
)
def test_derive_seniority(title, expected):
    assert derive_seniority(title) == expected


def test_every_derived_value_is_a_choice():
    values = [value for value, _ in SENIORITY_CHOICES]
    assert values == ["c_level", "vp", "director", "manager", "individual", "unknown"]
    assert all(label for _, label in SENIORITY_CHOICES)
