"""Demo data of the dashboards: three months of marketing spend per channel (so the QBR shows
CAC), the executive's subscription to the weekly huddle email, and the stored charts of this
week, month and quarter (what beat keeps warm), so the first view of the charts is instant."""

from datetime import date, datetime
from decimal import Decimal

from apps.accounts.models import User
from apps.dashboards import services, snapshots
from apps.dashboards.models import ReportKind

# Monthly budget per channel (the lead sources of the demo): paid channels cost the most,
# organic and referral little (content, tooling), so CAC differs visibly by channel.
MONTHLY_SPEND = {
    "paid_search": 18000,
    "webinar": 7000,
    "content_syndication": 9000,
    "events": 12000,
    "partner": 4000,
    "organic": 2500,
    "referral": 1500,
}


def _months_back(today: date, count: int) -> list[date]:
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(date(year, month, 1))
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return list(reversed(months))


def seed(*, now: datetime, rng) -> None:
    marketing = User.objects.filter(email="marketing@acme.test").first()
    for month in _months_back(now.date(), 3):
        for channel, budget in MONTHLY_SPEND.items():
            # ±15 % month to month, rounded to hundreds: a realistic, uneven budget.
            amount = Decimal(round(budget * rng.uniform(0.85, 1.15), -2))
            services.marketing_spend_set(
                month=month, channel=channel, amount=amount, actor=marketing
            )
    executive = User.objects.filter(email="cro@acme.test").first()
    if executive is not None:
        services.report_subscription_set(user=executive, report=ReportKind.HUDDLE, active=True)
    # Seeded last (dashboards is the last app): the charts describe all the demo's data.
    # Charts stored by an earlier seed described other data: forget them first.
    snapshots.snapshots_forget()
    snapshots.charts_refresh(now=now)
