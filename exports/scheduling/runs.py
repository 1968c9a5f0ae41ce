"""One run of a schedule: check the owner, then one ordinary export per recipient, each with
its DeliveryLog; when an export ends its delivery is settled (e-mail, sent log); when every
delivery is settled the run closes and counts towards the schedule's failures in a row.

Every recipient's file is an export of its own, run with that recipient's permissions and in
their own request context (never the owner's tenant or host, see scheduling.context), owned by
them (outside addresses: by the owner) and stored under its own name: deleting or purging one
recipient's file never touches another's. Each counts against its exporter's limits as any
export does (EXPORTS_MAX_PENDING_PER_USER, the storage quota); a delivery over them is skipped.
The run's message counts skipped people by reason and never names them.
"""

import logging
from collections import Counter

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from exports.conf import app_settings
from exports.datasets.base import get_dataset
from exports.datasets.changelist import can_export
from exports.datasets.conditions import ConditionError
from exports.db import write_atomic
from exports.delivery.purge import delete_stored
from exports.engine import row_cap
from exports.formats import MissingDependency
from exports.i18n import speaking
from exports.jobs.accept import display_name, enqueue, validate
from exports.jobs.quotas import refuse_if_full
from exports.models import (
    PENDING,
    Delivery,
    DeliveryLog,
    DeliveryStatus,
    DownloadFile,
    ExportAudit,
    ExportSchedule,
    ExportStatus,
    RunStatus,
    ScheduleRun,
    SentLog,
    Trigger,
    dataset_title,
)
from exports.scheduling import sentlog
from exports.scheduling.context import for_runner, left_out
from exports.scheduling.mail import Undeliverable, send_attachment, send_link, send_paused
from exports.scheduling.recipients import (
    NOT_ADDRESSABLE,
    Target,
    domain_allowed,
    may_address,
    refusal,
    targets,
)
from exports.signals import announce, export_delivered

log = logging.getLogger(__name__)
REFUSED = (ConditionError, LookupError, PermissionDenied, MissingDependency)


class Skipped(Exception):
    """This person gets nothing this run; the message says why without naming them."""


def readable(dataset: str) -> str:
    """ "User points", for declared datasets and changelists alike."""
    try:
        return get_dataset(dataset).title
    except LookupError:
        return dataset_title(dataset)


def may_export(user, dataset: str, context=None) -> bool:
    """On the export's own admin site (`context`: its filters["request"]), never the default
    site's. Raises ConditionError when the admin's code fails on the replayed request."""
    try:
        return can_export(user, dataset, context)
    except LookupError:
        return False


def owner_problem(schedule: ExportSchedule) -> str | None:
    """Why the schedule may not run for its owner now, or None."""
    owner, saved = schedule.owner, schedule.saved_export
    if not owner.is_active:
        text = _("The owner's account (%(owner)s) is deactivated.")
        return text % {"owner": owner.get_username()}
    try:
        allowed = may_export(owner, saved.dataset, saved.filters.get("request"))
    except ConditionError:
        return None  # no answer about permissions: the owner's delivery fails with the reason
    if not allowed:
        text = _("%(owner)s may no longer export %(dataset)s.")
        return text % {"owner": owner.get_username(), "dataset": readable(saved.dataset)}
    return None


def start_run(schedule: ExportSchedule, trigger: str, due_at=None) -> ScheduleRun:
    """Call inside a transaction: with the ORM broker the jobs commit with the run. What the
    run stores for its owner to read (reasons, the summary) is in the saved export's language."""
    with speaking(schedule.saved_export.options):
        return begin_run(schedule, trigger, due_at)


def begin_run(schedule: ExportSchedule, trigger: str, due_at=None) -> ScheduleRun:
    now = timezone.now()
    run = ScheduleRun.objects.create(schedule=schedule, trigger=trigger, due_at=due_at)
    ExportSchedule.objects.filter(pk=schedule.pk).update(last_run_at=now)
    problem = owner_problem(schedule)
    if problem:
        pause(schedule, problem)  # first, so that counting the failure does not pause it again
        close_run(run, RunStatus.FAILED, problem)
        run.refresh_from_db()
        return run
    settle_finished(schedule)
    most = app_settings.SCHEDULE_MAX_RECIPIENTS
    for number, target in enumerate(targets(schedule)):
        if number > most:  # the owner is number 0; a group may have grown since it was saved
            text = _(
                "Over the %(most)s recipients a schedule may have "
                "(EXPORTS_SCHEDULE_MAX_RECIPIENTS)."
            )
            over = text % {"most": most}
            finish(new_delivery(run, schedule, target), DeliveryStatus.SKIPPED, over)
        else:
            start_delivery(run, schedule, target)
    close_if_done(run.pk)
    run.refresh_from_db()
    return run


def new_delivery(run: ScheduleRun, schedule: ExportSchedule, target: Target) -> DeliveryLog:
    return DeliveryLog.objects.create(
        run=run,
        recipient=target.key,
        user=target.user,
        email=target.email,
        incremental=schedule.incremental,
    )


def start_delivery(run: ScheduleRun, schedule: ExportSchedule, target: Target) -> DeliveryLog:
    saved = schedule.saved_export
    delivery = new_delivery(run, schedule, target)
    exporter = target.user or schedule.owner
    filters = for_runner(saved.filters, saved.owner_id, exporter)
    try:
        with transaction.atomic():  # a refusal leaves no staged rows behind
            return prepare(delivery, run, schedule, target, exporter, filters)
    except Skipped as exc:
        return finish(delivery, DeliveryStatus.SKIPPED, str(exc))
    except REFUSED as exc:
        reason = str(exc) or type(exc).__name__
        missing = left_out(saved.filters, filters)
        if missing and isinstance(exc, ConditionError):
            return finish(delivery, DeliveryStatus.SKIPPED, needs_the_owners(missing, reason))
        return finish(delivery, DeliveryStatus.FAILED, reason)


def prepare(delivery, run, schedule, target: Target, exporter, filters: dict) -> DeliveryLog:
    """Check, stage and queue one delivery. Raises Skipped, or one of REFUSED."""
    saved = schedule.saved_export
    if target.user is not None:
        check_recipient(schedule, target.user, filters.get("request"))
    if target.email and not domain_allowed(target.email):
        return finish(delivery, DeliveryStatus.FAILED, refusal(target.email))
    options = dict(saved.options)
    if schedule.lifetime_hours:
        options["lifetime_hours"] = schedule.lifetime_hours
    dataset = validate(exporter, saved.dataset, saved.format, filters, options)
    chosen = choose_rows(schedule, target, delivery, dataset, filters)
    if chosen is None:
        return delivery
    if chosen == 0 and schedule.skips_empty:
        empty = _("No new rows for this recipient.") if schedule.incremental else _("No rows.")
        return finish(delivery, DeliveryStatus.EMPTY, empty)
    queue_delivery(delivery, run, schedule, exporter, filters, options)
    return delivery


def check_recipient(schedule: ExportSchedule, user, context) -> None:
    """Raises Skipped for a person the owner may not address, or who may not export this."""
    owner, dataset = schedule.owner, schedule.saved_export.dataset
    if user.pk != owner.pk and not may_address(owner, user):
        raise Skipped(NOT_ADDRESSABLE)
    if not may_export(user, dataset, context):
        raise Skipped(_("May not export %(dataset)s.") % {"dataset": readable(dataset)})


def needs_the_owners(missing: list[str], reason: str) -> str:
    text = _(
        "This changelist's admin cannot list rows without what the owner's request carried "
        "(%(missing)s), and one person's request is never replayed for another; the host's "
        "EXPORTS_PREPARE_REQUEST can give each person their own. %(reason)s"
    )
    return text % {"missing": ", ".join(missing), "reason": reason}


def choose_rows(schedule, target: Target, delivery: DeliveryLog, dataset, filters) -> int | None:
    """Rows this recipient will get (-1: not counted); None when the delivery was skipped."""
    saved = schedule.saved_export
    if schedule.incremental:
        sent_log = sentlog.open_log(schedule, target.key, saved.dataset)
        earlier = DeliveryLog.objects.filter(
            run__schedule=schedule, recipient=target.key, status=DeliveryStatus.EXPORTING
        ).exclude(pk=delivery.pk)
        if earlier.exists():
            reason = _(
                "An earlier delivery to this recipient is still on its way; its rows and any "
                "new ones go out with the next run."
            )
            finish(delivery, DeliveryStatus.SKIPPED, reason)
            return None
        return sentlog.stage(sent_log, delivery, dataset, filters, row_cap())
    if schedule.skips_empty:
        return int(dataset.filtered(filters.get("conditions"), filters.get("limit")).exists())
    return -1


def check_limits(exporter, owner) -> None:
    """What queue_export holds every export to, for the person a delivery is exported as
    (outside addresses: the owner), under a lock on their row. Raises Skipped."""
    get_user_model().objects.select_for_update().filter(pk=exporter.pk).exists()
    most = app_settings.MAX_PENDING_PER_USER
    if ExportAudit.objects.filter(requested_by=exporter, status__in=PENDING).count() >= most:
        text = ngettext(
            "At the limit of %(most)s export queued or running per person "
            "(EXPORTS_MAX_PENDING_PER_USER).",
            "At the limit of %(most)s exports queued or running per person "
            "(EXPORTS_MAX_PENDING_PER_USER).",
            most,
        )
        raise Skipped(text % {"most": most})
    full = refuse_if_full(exporter)
    if full:
        raise Skipped(full if exporter.pk == owner.pk else _("Their storage quota is full."))


def queue_delivery(delivery, run, schedule, exporter, filters: dict, options: dict) -> ExportAudit:
    """Raises Skipped over the exporter's limits (the staged rows roll back with it)."""
    check_limits(exporter, schedule.owner)
    saved = schedule.saved_export
    shown = display_name(exporter)
    audit = ExportAudit.objects.create(
        dataset=saved.dataset,
        format=saved.format,
        filters=filters,
        options=options,
        delivery=Delivery.BACKGROUND,
        requested_by=exporter,
        requested_by_display=f"{shown} for {delivery.email}" if delivery.email else shown,
        trigger=run.trigger,
        schedule=schedule,
        saved_export=saved,
    )
    delivery.audit = audit
    delivery.save(update_fields=["audit"])
    enqueue(audit)
    return audit


def finish(delivery: DeliveryLog, status: str, error: str = "", **fields) -> DeliveryLog:
    delivery.status, delivery.error = status, error[:2000]
    for name, value in fields.items():
        setattr(delivery, name, value)
    delivery.save()
    return delivery


# --- When an export ends --------------------------------------------------------------------


def on_export_finished(sender, audit: ExportAudit, **kwargs) -> None:
    """export_finished receiver: settle the delivery this export was made for, if any."""
    if audit.schedule_id is None:
        return
    found = DeliveryLog.objects.filter(audit=audit, status=DeliveryStatus.EXPORTING)
    delivery_id = found.values_list("pk", flat=True).first()
    if delivery_id is not None:
        settle(delivery_id)


def settle(delivery_id: int) -> DeliveryLog | None:
    """Deliver a finished export (or record why not) exactly once; idempotent."""
    run_id = DeliveryLog.objects.filter(pk=delivery_id).values_list("run_id", flat=True).first()
    with write_atomic():
        # Lock the run first: the last delivery to settle must see all the others settled.
        ScheduleRun.objects.select_for_update().filter(pk=run_id).exists()
        delivery = (
            DeliveryLog.objects.select_for_update(of=("self",))
            .select_related("audit", "user", "run__schedule__saved_export")
            .filter(pk=delivery_id, status=DeliveryStatus.EXPORTING)
            .first()
        )
        if delivery is None or (delivery.audit is not None and delivery.audit.is_pending):
            return None
        with speaking(delivery.run.schedule.saved_export.options):  # what the owner reads
            deliver(delivery)
            close_if_done(run_id)
    if delivery.status == DeliveryStatus.SENT:
        announce(
            export_delivered,
            DeliveryLog,
            delivery=delivery,
            audit=delivery.audit,
            recipient=delivery.to,
        )
    return delivery


def deliver(delivery: DeliveryLog) -> None:
    audit = delivery.audit
    reason = export_problem(audit)
    file = None if reason else DownloadFile.objects.filter(audit=audit).first()
    if file is None and not reason:
        reason = _("The file was deleted before it could be sent.")
    if not reason:
        reason = send(delivery, file)
    if delivery.email and file is not None:
        discard(file)
    if reason:
        if delivery.incremental:
            sentlog.drop_pending(delivery)
        finish(delivery, DeliveryStatus.FAILED, reason)
        return
    if delivery.incremental:
        sent_log = SentLog.objects.get(
            schedule_id=delivery.run.schedule_id,
            recipient=delivery.recipient,
            dataset=audit.dataset,
        )
        sentlog.log_sent(sent_log.pk, delivery)
    finish(
        delivery,
        DeliveryStatus.SENT,
        rows=audit.row_count,
        filename=file.filename,
        delivered_at=timezone.now(),
    )


def discard(file: DownloadFile) -> None:
    """An outside address's file was only the attachment's vehicle: it does not stay on the
    owner's My downloads (the audit row and the delivery log keep the record)."""
    stored = file.stored_name
    file.delete()
    transaction.on_commit(lambda: delete_stored(stored))


def export_problem(audit: ExportAudit | None) -> str:
    if audit is None:
        return _("The export's audit row is gone.")
    if audit.status != ExportStatus.COMPLETED:
        status = audit.get_status_display().lower()
        if not audit.error:
            return _("The export was %(status)s") % {"status": status}
        return _("The export was %(status)s: %(error)s") % {"status": status, "error": audit.error}
    return ""


def send(delivery: DeliveryLog, file: DownloadFile) -> str:
    """'' when the file reached the recipient; otherwise why not."""
    name = delivery.run.schedule.saved_export.name
    try:
        if delivery.email:
            send_attachment(delivery, file, name)
        elif delivery.user is not None and delivery.user.email:
            send_link(delivery, file, name)
    except Undeliverable as exc:
        return str(exc)
    except Exception as exc:  # SMTP refused, timed out, connection reset...
        log.warning("delivery %s: e-mail not sent: %s", delivery.pk, exc)
        return _("E-mail not sent: %(reason)s") % {"reason": exc}
    return ""


def settle_finished(schedule: ExportSchedule | None = None, limit: int = 100) -> int:
    """Deliveries whose export ended without settling them (the worker died in between)."""
    stuck = DeliveryLog.objects.filter(status=DeliveryStatus.EXPORTING).exclude(
        audit__status__in=PENDING
    )
    if schedule is not None:
        stuck = stuck.filter(run__schedule=schedule)
    ids = list(stuck.values_list("pk", flat=True)[:limit])
    for delivery_id in ids:
        settle(delivery_id)
    return len(ids)


# --- Closing a run; failures in a row; pausing ------------------------------------------------


def close_if_done(run_id: int) -> None:
    deliveries = list(DeliveryLog.objects.filter(run_id=run_id).select_related("user"))
    if any(d.status == DeliveryStatus.EXPORTING for d in deliveries):
        return
    failed = any(d.status == DeliveryStatus.FAILED for d in deliveries)
    run = ScheduleRun.objects.get(pk=run_id)
    close_run(run, RunStatus.FAILED if failed else RunStatus.COMPLETED, summary(deliveries))


def summary(deliveries: list[DeliveryLog]) -> str:
    """What the owner reads: counts by status, why each delivery failed, and how many people
    were skipped for which reason, never who (it would tell the owner about their rights)."""
    counts = Counter(d.get_status_display().lower() for d in deliveries)
    head = ", ".join(f"{n} {status}" for status, n in counts.items()) or _("no recipients")
    failed = [f"{d.to}: {d.error}" for d in deliveries if d.status == DeliveryStatus.FAILED]
    skipped = Counter(d.error for d in deliveries if d.status == DeliveryStatus.SKIPPED)
    text = _("%(count)s skipped: %(reason)s")
    skips = [text % {"count": n, "reason": why} for why, n in skipped.items()]
    return "; ".join([head, *failed, *skips])


def close_run(run: ScheduleRun, status: str, message: str) -> None:
    closed = ScheduleRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
        status=status, message=message[:4000], finished_at=timezone.now()
    )
    if not closed:
        return
    schedules = ExportSchedule.objects.filter(pk=run.schedule_id)
    if status == RunStatus.COMPLETED:
        schedules.update(failures_in_row=0)
        return
    schedules.update(failures_in_row=F("failures_in_row") + 1)
    schedule = schedules.select_related("saved_export__owner").get()
    most = app_settings.SCHEDULE_MAX_FAILURES
    if schedule.failures_in_row >= most and not schedule.paused:
        text = _("%(count)s runs in a row failed. The last: %(message)s")
        pause(schedule, text % {"count": schedule.failures_in_row, "message": message})


def pause(schedule: ExportSchedule, reason: str) -> None:
    """Stop the schedule and tell its owner why (after commit)."""
    ExportSchedule.objects.filter(pk=schedule.pk).update(paused=True, paused_reason=reason)
    schedule_id = schedule.pk

    def notify() -> None:
        fresh = ExportSchedule.objects.select_related("saved_export__owner").get(pk=schedule_id)
        try:
            send_paused(fresh, reason)
        except Exception as exc:
            log.warning("schedule %s paused; the owner's e-mail failed: %s", schedule_id, exc)

    transaction.on_commit(notify)


def run_now(schedule: ExportSchedule, trigger: str = Trigger.MANUAL) -> ScheduleRun:
    """Run a schedule at once, as the scheduler would (its next run stays as it was)."""
    with transaction.atomic():
        return start_run(schedule, trigger)
