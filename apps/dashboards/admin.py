from django.contrib import admin

from apps.dashboards.models import MarketingSpend, ReportDelivery, ReportSubscription


@admin.register(MarketingSpend)
class MarketingSpendAdmin(admin.ModelAdmin):
    list_display = ["month", "channel", "amount", "entered_by", "updated_at"]
    list_filter = ["channel"]


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["user", "report", "is_active", "created_at"]
    list_filter = ["report", "is_active"]


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(admin.ModelAdmin):
    list_display = ["subscription", "period_label", "sent_at", "attempts"]
    readonly_fields = ["subscription", "period_start", "period_label", "created_at", "sent_at"]
