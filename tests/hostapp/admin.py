"""The host's admin: a second AdminSite ("crm") for companies and deals, the default site for
regions. Every trick here is one a real project uses and one that broke exports replayed in
a worker."""

import threading

from django.contrib import admin, messages
from django.db.models import Count

from exports.admin import ExportMixin
from tests.hostapp.models import Company, Deal, Region

crm_site = admin.AdminSite(name="crm")
desk = threading.local()  # set by DealAdmin.changelist_view, read by a column


class ActiveFilter(admin.SimpleListFilter):
    """Narrows by default: without a choice only active rows show (`?active=all` for all)."""

    title = "active"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", "Active"), ("no", "Inactive"), ("all", "All")]

    def choices(self, changelist):
        for value, title in self.lookup_choices:
            yield {
                "selected": (self.value() or "yes") == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "yes"
        if value == "all":
            return queryset
        return queryset.filter(active=value == "yes")


class BigFilter(admin.SimpleListFilter):
    title = "size"
    parameter_name = "size"

    def lookups(self, request, model_admin):
        return [("big", "Big"), ("small", "Small")]

    def queryset(self, request, queryset):
        if self.value() == "big":
            return queryset.filter(amount__gte=500)
        if self.value() == "small":
            return queryset.filter(amount__lt=500)
        return queryset


def scoped(request, queryset):
    """A manager sees every department, others their own (set by DeskMiddleware on
    request.user); a department chosen in the session narrows further."""
    user = request.user
    if not user.is_manager:
        queryset = queryset.filter(department__in=user.departments)
    chosen = request.session.get("department")
    return queryset if chosen is None else queryset.filter(department=chosen)


class SearchSays:
    """A search that warns through messages, as hosts' admins do."""

    def get_search_results(self, request, queryset, search_term):
        results, duplicates = super().get_search_results(request, queryset, search_term)
        if search_term:
            messages.info(request, f"Searched for {search_term}.")
        return results, duplicates


@admin.register(Deal, site=crm_site)
class DealAdmin(SearchSays, ExportMixin, admin.ModelAdmin):
    list_display = ["id", "title", "company", "stage", "amount", "closed", "region", "desk"]
    list_filter = [ActiveFilter, BigFilter, "stage", "company", "closed"]
    date_hierarchy = "closed"
    search_fields = ["title", "company__name", "company__region__name"]
    list_per_page = 7
    export_columns = ["id", "title", "company", "stage", "amount", "closed", "department"]

    def get_queryset(self, request):
        return scoped(request, super().get_queryset(request).select_related("company__region"))

    def changelist_view(self, request, extra_context=None):
        desk.department = request.session.get("department")
        return super().changelist_view(request, extra_context)

    @admin.display(description="Region", ordering="company__region__name")
    def region(self, obj: Deal) -> str:
        return obj.company.region.name

    @admin.display(description="Desk")
    def desk(self, obj: Deal) -> str:
        return f"desk {desk.department or 'all'}"  # AttributeError away from the live page


@admin.register(Company, site=crm_site)
class CompanyAdmin(SearchSays, ExportMixin, admin.ModelAdmin):
    list_display = ["id", "name", "region", "tier", "active", "founded", "deal_count"]
    list_filter = [ActiveFilter, "tier", "region", "founded"]
    search_fields = ["name", "region__name", "deal__title"]
    list_per_page = 6

    def get_queryset(self, request):
        rows = super().get_queryset(request).annotate(deals=Count("deal"))
        return scoped(request, rows)

    @admin.display(description="Deals", ordering="deals")
    def deal_count(self, obj: Company) -> int:
        return obj.deals


@admin.register(Region)
class RegionAdmin(ExportMixin, admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["name"]
    ordering = ["name"]
    list_per_page = 2

    def get_fieldsets(self, request, obj=None):
        """Only for a saved region (as profile admins do): an unsaved one or None raise."""
        saved = Region.objects.get(pk=obj.pk)
        return [(None, {"fields": ["code", "name"] if saved.pk else ["name"]})]
