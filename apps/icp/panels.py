"""The lead page's ICP fit panel: grade, score and each attribute matched or not."""

from apps.icp.selectors import fit_for_leads, icp_current

ATTRIBUTE_LABELS = {
    "company_size": "Company size",
    "annual_revenue": "Annual revenue",
    "industry": "Industry",
    "region": "Region",
    "technologies": "Technologies",
    "seniority": "Seniority",
}


def lead_panel(*, lead, user) -> dict | None:
    revision = icp_current()
    fit = fit_for_leads(leads=[lead], revision=revision)[lead.pk]
    return {
        "title": "ICP fit",
        "template": "icp/_lead_panel.html",
        "context": {
            "fit": fit,
            "revision": revision,
            "rows": [(ATTRIBUTE_LABELS.get(m.attribute, m.attribute), m) for m in fit.matches],
        },
        "order": 20,
    }
