"""Countries and sales regions: CRM exports spell countries many ways, routing needs one code.

Pure module: no ORM, no Django. `country_code` accepts an ISO 3166-1 alpha-2 code
or a common English name (what HubSpot and Salesforce exports carry);
`region_for` gives the sales region a country belongs to (EMEA, NA, LATAM, APAC),
used when a lead arrives with a country but no region.
"""

from __future__ import annotations

# code: (region, names other than the code that mean this country)
_COUNTRIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "US": ("NA", ("united states", "united states of america", "usa", "u.s.", "u.s.a.")),
    "CA": ("NA", ("canada",)),
    "MX": ("LATAM", ("mexico", "méxico")),
    "BR": ("LATAM", ("brazil", "brasil")),
    "AR": ("LATAM", ("argentina",)),
    "CL": ("LATAM", ("chile",)),
    "CO": ("LATAM", ("colombia",)),
    "PE": ("LATAM", ("peru", "perú")),
    "UY": ("LATAM", ("uruguay",)),
    "CR": ("LATAM", ("costa rica",)),
    "GB": ("EMEA", ("united kingdom", "uk", "great britain", "england", "scotland", "wales")),
    "IE": ("EMEA", ("ireland",)),
    "DE": ("EMEA", ("germany", "deutschland")),
    "FR": ("EMEA", ("france",)),
    "ES": ("EMEA", ("spain", "españa")),
    "PT": ("EMEA", ("portugal",)),
    "IT": ("EMEA", ("italy", "italia")),
    "NL": ("EMEA", ("netherlands", "the netherlands", "holland")),
    "BE": ("EMEA", ("belgium",)),
    "LU": ("EMEA", ("luxembourg",)),
    "CH": ("EMEA", ("switzerland",)),
    "AT": ("EMEA", ("austria", "österreich")),
    "SE": ("EMEA", ("sweden",)),
    "NO": ("EMEA", ("norway",)),
    "DK": ("EMEA", ("denmark",)),
    "FI": ("EMEA", ("finland",)),
    "IS": ("EMEA", ("iceland",)),
    "PL": ("EMEA", ("poland",)),
    "CZ": ("EMEA", ("czech republic", "czechia")),
    "SK": ("EMEA", ("slovakia",)),
    "HU": ("EMEA", ("hungary",)),
    "RO": ("EMEA", ("romania",)),
    "BG": ("EMEA", ("bulgaria",)),
    "GR": ("EMEA", ("greece",)),
    "HR": ("EMEA", ("croatia",)),
    "SI": ("EMEA", ("slovenia",)),
    "EE": ("EMEA", ("estonia",)),
    "LV": ("EMEA", ("latvia",)),
    "LT": ("EMEA", ("lithuania",)),
    "UA": ("EMEA", ("ukraine",)),
    "TR": ("EMEA", ("turkey", "türkiye")),
    "IL": ("EMEA", ("israel",)),
    "AE": ("EMEA", ("united arab emirates", "uae")),
    "SA": ("EMEA", ("saudi arabia",)),
    "QA": ("EMEA", ("qatar",)),
    "EG": ("EMEA", ("egypt",)),
    "MA": ("EMEA", ("morocco",)),
    "NG": ("EMEA", ("nigeria",)),
    "KE": ("EMEA", ("kenya",)),
    "ZA": ("EMEA", ("south africa",)),
    "IN": ("APAC", ("india",)),
    "CN": ("APAC", ("china",)),
    "HK": ("APAC", ("hong kong",)),
    "TW": ("APAC", ("taiwan",)),
    "JP": ("APAC", ("japan",)),
    "KR": ("APAC", ("south korea", "korea", "republic of korea")),
    "SG": ("APAC", ("singapore",)),
    "MY": ("APAC", ("malaysia",)),
    "TH": ("APAC", ("thailand",)),
    "VN": ("APAC", ("vietnam", "viet nam")),
    "ID": ("APAC", ("indonesia",)),
    "PH": ("APAC", ("philippines",)),
    "AU": ("APAC", ("australia",)),
    "NZ": ("APAC", ("new zealand",)),
    "PK": ("APAC", ("pakistan",)),
    "BD": ("APAC", ("bangladesh",)),
}
_BY_NAME: dict[str, str] = {
    name: code for code, (_region, names) in _COUNTRIES.items() for name in names
}

REGIONS: tuple[str, ...] = ("NA", "LATAM", "EMEA", "APAC")


def country_code(value: str | None) -> str | None:
    """The ISO alpha-2 code for a code or common name ("Germany", "de" -> "DE"); None if unknown.

    Any two-letter value is taken as a code even when not in the table above:
    the table names countries, it does not limit them.
    """
    if value is None:
        return None
    text = " ".join(value.strip().split())
    if len(text) == 2 and text.isalpha():
        return text.upper()
    return _BY_NAME.get(text.casefold())


def region_for(code: str | None) -> str:
    """The sales region of a country code ("" when the country is not in the table)."""
    if not code:
        return ""
    entry = _COUNTRIES.get(code.upper())
    return entry[0] if entry else ""
