"""The admin of saved exports, their schedules (recipients inline) and the schedules' runs.

Anyone who may export sees their own (and saved exports shared with their groups, read-only);
superusers see everything. Running is always done with the permissions of the person (or, for
a schedule, of its owner) checked at that moment. Recipients are chosen among the people the
owner may address (scheduling.recipients), and the form shows no other names.
"""

from datetime import datetime, timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import widgets
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseNotAllowed, JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from exports.admin.audit import ReadOnlyAdmin, pretty_json
from exports.clock import local
from exports.conf import app_settings
from exports.datasets.access import may_export as may_export_at_all
from exports.datasets.conditions import ConditionError
from exports.delivery.lifetime import max_hours
from exports.formats import format_choices
from exports.jobs.accept import ExportRefused
from exports.models import (
    DeliveryLog,
    ExportSchedule,
    SavedExport,
    ScheduleKind,
    ScheduleRecipient,
    ScheduleRun,
)
from exports.scheduling.cron import CronError, parse
from exports.scheduling.due import pause_by_owner, reschedule, resume
from exports.scheduling.recipients import (
    SEND_TO_ANYONE,
    addressable_groups,
    addressable_users,
    schedule_owner,
    too_many,
)
from exports.scheduling.runs import run_now
from exports.scheduling.saved import run_saved
from exports.scheduling.sentlog import incremental_problem
from exports.scheduling.timing import WEEKDAY_NAMES, Timing, next_run_time


def may_export(request: HttpRequest) -> bool:
    return may_export_at_all(request.user)


def owns(request: HttpRequest, owner_id) -> bool:
    return request.user.is_superuser or owner_id == request.user.pk


class OwnedAdmin(admin.ModelAdmin):
    """View for anyone who may export; change and delete for the owner (or a superuser)."""

    def owner_id_of(self, obj) -> int:
        raise NotImplementedError

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_export(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return may_export(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_export(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return may_export(request) and (obj is None or owns(request, self.owner_id_of(obj)))

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self.has_change_permission(request, obj)


class SavedExportForm(forms.ModelForm):
    format = forms.ChoiceField(choices=format_choices)

    class Meta:
        model = SavedExport
        fields = ["name", "format", "shared_with"]


@admin.register(SavedExport)
class SavedExportAdmin(OwnedAdmin):
    form = SavedExportForm
    list_display = ["name", "dataset_title", "format", "owner", "shared", "schedule_links"]
    search_fields = ["name", "dataset"]
    filter_horizontal = ["shared_with"]
    readonly_fields = [
        "owner",
        "dataset",
        "filters_json",
        "options_json",
        "created_at",
        "schedule_links",
    ]
    actions = ["run_saved_now"]

    def owner_id_of(self, obj: SavedExport) -> int:
        return obj.owner_id

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made by "Save this export as…" on an options page or the Datasets page

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).visible_to(request.user).select_related("owner")

    @admin.display(description=gettext_lazy("shared with"))
    def shared(self, obj: SavedExport) -> str:
        return ", ".join(g.name for g in obj.shared_with.all()) or "—"

    @admin.display(description=gettext_lazy("filters"))
    def filters_json(self, obj: SavedExport) -> str:
        return pretty_json(obj.filters)

    @admin.display(description=gettext_lazy("options"))
    def options_json(self, obj: SavedExport) -> str:
        return pretty_json(obj.options)

    @admin.display(description=gettext_lazy("schedules"))
    def schedule_links(self, obj: SavedExport) -> str:
        links = format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:exports_exportschedule_change", args=[s.pk]), describe(s))
                for s in obj.schedules.all()
            ),
        )
        add = reverse("admin:exports_exportschedule_add") + f"?saved_export={obj.pk}"
        return format_html('{} <a class="addlink" href="{}">Add a schedule</a>', links, add)

    @admin.action(description=gettext_lazy("Run now (as me, into My downloads)"))
    def run_saved_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        for saved in queryset:
            try:
                run_saved(request.user, saved, request)
            except (PermissionDenied, ConditionError, LookupError, ExportRefused) as exc:
                self.message_user(request, f"{saved.name}: {exc}", messages.ERROR)
            else:
                self.message_user(
                    request, _("%(name)s: queued; see My downloads.") % {"name": saved.name}
                )


def describe(schedule: ExportSchedule) -> str:
    return Timing.of(schedule).describe()


class EmptyRunsSelect(forms.NullBooleanSelect):
    def __init__(self, attrs=None) -> None:
        super().__init__(attrs)
        self.choices = [
            ("unknown", "Default: don't send for incremental schedules, send otherwise"),
            ("true", "Don't send"),
            ("false", "Send a file with no rows"),
        ]


# Bounds that keep every timing computable (no date past 9999) and sensible.
MAX_EVERY = {"hours": 24 * 366, "days": 366}
MAX_START_YEARS = 10
# Which field a timing that runs too often is reported on.
TIMING_FIELD = {ScheduleKind.INTERVAL: "every", ScheduleKind.WEEKLY: "weekdays"}


def in_minutes(duration: timedelta) -> str:
    minutes = int(duration.total_seconds() // 60)
    return ngettext("%(count)s minute", "%(count)s minutes", minutes) % {"count": minutes}


# The fields each kind reads; the others are reset to their defaults when saved, and their
# errors dropped (without JavaScript the form shows every field, see static/exports/schedule.js).
KIND_FIELDS = {
    ScheduleKind.INTERVAL: {"every", "unit", "at_time"},
    ScheduleKind.WEEKLY: {"weekdays", "at_time"},
    ScheduleKind.CRON: {"cron"},
}
TIMING_FIELDS = ["kind", "every", "unit", "weekdays", "at_time", "cron", "starts_at"]
UPCOMING_RUNS = 3


class TimingForm(forms.ModelForm):
    """When a schedule runs, alone: what the "Next runs" preview reads (the whole form is
    sent; only these fields count). ExportScheduleForm adds the rest."""

    weekdays = forms.TypedMultipleChoiceField(
        choices=list(enumerate(WEEKDAY_NAMES)),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Weekly schedules."),
    )

    class Meta:
        model = ExportSchedule
        fields = TIMING_FIELDS
        field_classes = {"starts_at": forms.SplitDateTimeField}
        widgets = {"starts_at": forms.SplitDateTimeWidget}

    def clean(self) -> dict:
        data = self.clean_timing()
        self.check_runs(data.get("kind"))
        return data

    def ignore_other_kinds(self, kind: str | None) -> None:
        """Fields of another kind than the chosen one neither fail nor stay: a form shown
        without JavaScript posts them all, with whatever they hold."""
        if kind not in KIND_FIELDS:
            return
        for name in set().union(*KIND_FIELDS.values()) - KIND_FIELDS[kind]:
            self._errors.pop(name, None)
            self.cleaned_data[name] = ExportSchedule._meta.get_field(name).get_default()

    def clean_timing(self) -> dict:
        data = super().clean()
        kind = data.get("kind")
        self.ignore_other_kinds(kind)
        if kind == ScheduleKind.CRON:
            try:
                parse(data.get("cron") or "")
            except CronError as exc:
                self.add_error("cron", str(exc))
        if kind == ScheduleKind.WEEKLY and not data.get("weekdays"):
            self.add_error("weekdays", "Choose at least one day.")
        if kind == ScheduleKind.INTERVAL:
            self.check_every(data.get("every"), data.get("unit"))
        self.check_start(data.get("starts_at"))
        return data

    def check_runs(self, kind: str | None) -> None:
        """Last, on an otherwise valid form: how often, and whether it runs at all."""
        if not self.errors:
            self.check_often(kind)
        if not self.errors:
            self.check_it_runs()

    def check_every(self, every: int | None, unit: str | None) -> None:
        most = MAX_EVERY.get(unit or "", MAX_EVERY["days"])
        if not every:
            self.add_error("every", _("Run every 1 or more hours or days."))
        elif every > most:
            texts = {
                "hours": _("At most every %(most)s hours."),
                "days": _("At most every %(most)s days."),
            }
            self.add_error("every", texts.get(unit or "", texts["days"]) % {"most": most})

    def check_start(self, starts_at) -> None:
        latest = timezone.now() + timedelta(days=365 * MAX_START_YEARS)
        if starts_at is not None and starts_at > latest:
            text = _("The first run must be within %(years)s years.")
            self.add_error("starts_at", text % {"years": MAX_START_YEARS})

    def trial(self) -> ExportSchedule:
        trial = ExportSchedule(**{k: v for k, v in self.cleaned_data.items() if k != "weekdays"})
        trial.weekdays = self.cleaned_data.get("weekdays") or []
        return trial

    def check_often(self, kind: str) -> None:
        """No closer together than EXPORTS_SCHEDULE_MIN_INTERVAL_MINUTES (the scheduler holds
        schedules saved earlier to it too)."""
        least = timedelta(minutes=app_settings.SCHEDULE_MIN_INTERVAL_MINUTES)
        gap = Timing.of(self.trial()).shortest_gap()
        if gap < least:
            text = _(
                "Schedules here run at most every %(least)s "
                "(EXPORTS_SCHEDULE_MIN_INTERVAL_MINUTES); this one would run %(gap)s apart."
            )
            self.add_error(
                TIMING_FIELD.get(kind, "cron"),
                text % {"least": in_minutes(least), "gap": in_minutes(gap)},
            )

    def check_it_runs(self) -> None:
        try:
            next_run_time(self.trial())
        except (CronError, ValueError, OverflowError) as exc:
            raise ValidationError(str(exc)) from None

    def upcoming(self) -> list[datetime]:
        """The next runs of a valid form, from now."""
        return Timing.of(self.trial()).upcoming(timezone.now(), UPCOMING_RUNS)


class ExportScheduleForm(TimingForm):
    class Meta:
        model = ExportSchedule
        fields = [
            "saved_export",
            *TIMING_FIELDS,
            "incremental",
            "skip_empty",
            "lifetime_hours",
            "paused",
        ]
        widgets = {"skip_empty": EmptyRunsSelect}

    def __init__(self, *args, request: HttpRequest | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if request is not None and not request.user.is_superuser:
            owned = SavedExport.objects.filter(owner=request.user)
            self.fields["saved_export"].queryset = owned
        most = _("At most %(hours)s hours.") % {"hours": max_hours()}
        self.fields[
            "lifetime_hours"
        ].help_text = f"{self.fields['lifetime_hours'].help_text} {most}"

    def clean(self) -> dict:
        data = self.clean_timing()
        if (data.get("lifetime_hours") or 0) > max_hours():
            self.add_error("lifetime_hours", _("At most %(hours)s hours.") % {"hours": max_hours()})
        saved = data.get("saved_export")
        if data.get("incremental") and saved is not None:
            problem = incremental_problem(saved.dataset)
            if problem:
                self.add_error("incremental", problem)
        self.check_runs(data.get("kind"))
        return data


def run_times(times: list[datetime]) -> str:
    """The wall-clock times a person reads, in the zone the admin shows."""
    shown = ", ".join(local(t).strftime("%a %Y-%m-%d %H:%M") for t in times)
    return f"{shown} ({timezone.get_current_timezone_name()})"


def first_error(form: forms.Form) -> str:
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        return f"{label}: {errors[0]}" if label else errors[0]
    return ""


class RecipientFormSet(forms.BaseInlineFormSet):
    """The recipients together: no more people and addresses than a schedule may have."""

    def clean(self) -> None:
        super().clean()
        owner = schedule_owner(self.instance)
        if owner is None:
            return  # the schedule's own form says what is missing
        kept = [
            form.instance
            for form in self.forms
            if (form.instance.pk or form.has_changed())
            and not form.errors
            and not self._should_delete_form(form)
        ]
        problem = too_many(owner, kept)
        if problem:
            raise ValidationError(problem)


class RecipientInline(admin.TabularInline):
    model = ScheduleRecipient
    formset = RecipientFormSet
    extra = 1
    verbose_name_plural = "Recipients besides the owner: a user, a group or an address per line"

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        """Only people and groups the editor may address, never a raw id whose username the
        form would show; except for those who may address and view every user, for whom a
        list of everyone would not scale. The owner's rule is checked again when saved."""
        if db_field.name == "user":
            kwargs["queryset"] = addressable_users(request.user)
            if request.user.has_perms([SEND_TO_ANYONE, "auth.view_user"]):
                kwargs["widget"] = widgets.ForeignKeyRawIdWidget(
                    db_field.remote_field, self.admin_site, using=kwargs.get("using")
                )
        elif db_field.name == "group":
            kwargs["queryset"] = addressable_groups(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return may_export(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return may_export(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return may_export(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return may_export(request)


@admin.register(ExportSchedule)
class ExportScheduleAdmin(OwnedAdmin):
    form = ExportScheduleForm
    inlines = [RecipientInline]
    list_display = ["__str__", "owner", "timing", "next_run_at", "paused", "last_result"]
    list_filter = ["paused", "kind", "incremental"]
    readonly_fields = [
        "next_runs",
        "next_run_at",
        "last_run_at",
        "failures_in_row",
        "paused_reason",
        "history",
    ]
    # Every kind's fields under a heading naming the kind: without JavaScript all are shown,
    # with it (exports/schedule.js) only the chosen kind's. "kind-…" classes say which.
    fieldsets = [
        (None, {"fields": ["saved_export", "kind", "starts_at"]}),
        (
            f"{ScheduleKind.INTERVAL.label} (kind: interval)",
            {"fields": ["every", "unit"], "classes": ["schedule-kind", "kind-interval"]},
        ),
        (
            f"{ScheduleKind.WEEKLY.label} (kind: weekly)",
            {"fields": ["weekdays"], "classes": ["schedule-kind", "kind-weekly"]},
        ),
        (
            "Time of day (kinds: every N days, weekly)",
            {
                "fields": ["at_time"],
                "classes": ["schedule-kind", "kind-interval", "kind-weekly", "time-of-day"],
            },
        ),
        (
            f"{ScheduleKind.CRON.label} (kind: cron)",
            {"fields": ["cron"], "classes": ["schedule-kind", "kind-cron"]},
        ),
        (None, {"fields": ["next_runs"]}),
        ("Delivery", {"fields": ["incremental", "skip_empty", "lifetime_hours", "paused"]}),
        (
            "Runs",
            {
                "fields": [
                    "next_run_at",
                    "last_run_at",
                    "failures_in_row",
                    "paused_reason",
                    "history",
                ]
            },
        ),
    ]
    actions = ["run_schedules_now", "pause_schedules", "resume_schedules"]

    class Media:
        js = ["exports/schedule.js"]

    def owner_id_of(self, obj: ExportSchedule) -> int:
        return obj.saved_export.owner_id

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request).select_related("saved_export__owner")
        return qs.owned_by(request.user)

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)

        class WithRequest(form):
            def __init__(self, *args, **kw) -> None:
                super().__init__(*args, request=request, **kw)

        return WithRequest

    def get_urls(self) -> list:
        name = f"{self.opts.app_label}_{self.opts.model_name}_next_runs"
        view = self.admin_site.admin_view(self.next_runs_view)
        return [path("next-runs/", view, name=name), *super().get_urls()]

    def next_runs_view(self, request: HttpRequest) -> JsonResponse | HttpResponseNotAllowed:
        """The next runs of the timing in the query string (the form as it stands), for the
        form's "Next runs" line. A GET that changes nothing; 400 with the reason when the
        timing is not valid."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        if not may_export(request):
            raise PermissionDenied
        form = TimingForm(request.GET)
        if not form.is_valid():
            return JsonResponse({"error": first_error(form)}, status=400)
        times = form.upcoming()
        return JsonResponse({"runs": [t.isoformat() for t in times], "text": run_times(times)})

    @admin.display(description=gettext_lazy("next runs"))
    def next_runs(self, obj: ExportSchedule) -> str:
        """From the timing the form holds (the saved one, or what was posted when the page
        comes back with errors); schedule.js updates it as the fields change."""
        url = reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_next_runs"
        )
        try:
            text = run_times(Timing.of(obj).upcoming(timezone.now(), UPCOMING_RUNS))
        except (CronError, ValueError, OverflowError, TypeError, AttributeError):
            text = "—"
        return format_html('<span id="next-runs" data-url="{}">{}</span>', url, text)

    def save_model(self, request: HttpRequest, obj: ExportSchedule, form, change: bool) -> None:
        if not owns(request, obj.saved_export.owner_id):
            raise PermissionDenied
        if obj.paused and not obj.paused_reason:
            obj.paused_reason = _("Paused by %(user)s.") % {"user": request.user.get_username()}
        if not obj.paused:
            obj.paused_reason, obj.failures_in_row = "", 0
        reschedule(obj)
        super().save_model(request, obj, form, change)

    @admin.display(description=gettext_lazy("owner"))
    def owner(self, obj: ExportSchedule) -> str:
        return obj.saved_export.owner.get_username()

    @admin.display(description=gettext_lazy("when"))
    def timing(self, obj: ExportSchedule) -> str:
        return describe(obj)

    @admin.display(description=gettext_lazy("last result"))
    def last_result(self, obj: ExportSchedule) -> str:
        run = obj.runs.first()
        return f"{run.get_status_display()}: {run.message}" if run else "—"

    @admin.display(description=gettext_lazy("run history"))
    def history(self, obj: ExportSchedule) -> str:
        runs = obj.runs.all()[:20]
        if not runs:
            return "No runs yet."
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:exports_schedulerun_change", args=[r.pk]),
                    local(r.started_at).strftime("%Y-%m-%d %H:%M"),
                    r.get_trigger_display(),
                    r.get_status_display(),
                    r.message,
                )
                for r in runs
            ),
        )
        head = "<tr><th>Started</th><th>Trigger</th><th>Status</th><th>Result</th></tr>"
        # The heading in the format string: format_html() without arguments fails on Django 6.
        return format_html('<table class="run-history">' + head + "{}</table>", rows)

    @admin.action(description=gettext_lazy("Run now (as the scheduler would)"))
    def run_schedules_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        for schedule in queryset:
            run = run_now(schedule)
            self.message_user(request, f"{schedule}: {run.get_status_display()}. {run.message}")

    @admin.action(description=gettext_lazy("Pause"))
    def pause_schedules(self, request: HttpRequest, queryset: QuerySet) -> None:
        for schedule in queryset:
            pause_by_owner(schedule, request.user)
        self.message_user(request, _("Paused %(count)s schedule(s).") % {"count": len(queryset)})

    @admin.action(description=gettext_lazy("Resume"))
    def resume_schedules(self, request: HttpRequest, queryset: QuerySet) -> None:
        for schedule in queryset:
            resume(schedule)
        self.message_user(request, _("Resumed %(count)s schedule(s).") % {"count": len(queryset)})


class DeliveryInline(admin.TabularInline):
    model = DeliveryLog
    extra = 0
    fields = ["to", "status", "rows", "filename", "error", "delivered_at", "audit"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ScheduleRun)
class ScheduleRunAdmin(ReadOnlyAdmin):
    """Read-only: a run's deliveries, one per recipient."""

    inlines = [DeliveryInline]
    list_display = ["schedule", "trigger", "started_at", "finished_at", "status", "message"]
    list_filter = ["status", "trigger"]
    fields = ["schedule", "trigger", "due_at", "started_at", "finished_at", "status", "message"]
    readonly_fields = fields

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_export(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return may_export(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request).select_related("schedule__saved_export")
        if request.user.is_superuser:
            return qs
        return qs.filter(schedule__saved_export__owner=request.user)
