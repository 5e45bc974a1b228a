"""Factories of the leads app's models (only for set-up: behaviour goes through the services)."""

from datetime import UTC, datetime

import factory

from apps.leads.models import Activity, Lead, RoutingRule


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    external_id = factory.Sequence(lambda n: f"crm-{n}")
    email = factory.Sequence(lambda n: f"lead{n}@prospect.test")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    company = factory.Faker("company")
    company_size = 120
    country = "US"
    region = "NA"
    source = "webinar"


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    lead = factory.SubFactory(LeadFactory)
    kind = "page_view"
    family = "engagement"
    occurred_at = factory.LazyFunction(lambda: datetime(2025, 3, 3, 10, tzinfo=UTC))
    external_id = factory.Sequence(lambda n: f"act-{n}")


class RoutingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingRule
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Rule {n}")
    position = factory.Sequence(lambda n: n + 1)
    conditions = factory.LazyFunction(list)

    @factory.post_generation
    def pool(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.pool.set(extracted)
