"""Where no click exists to capture (Run again, a saved export, a schedule, the API), the
changelist is replayed for the runner on a request built for it. In the host app
(tests.hostapp) the admin's get_queryset needs what its middleware puts on request.user:
without the host's EXPORTS_PREPARE_REQUEST the replay fails in words that name the admin code
and the setting; with it, Run again gives the rows the changelist shows. A capture that was
tampered with is refused, never unpickled."""

import csv
import io
import random

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse

from exports.datasets.capture import KEY
from exports.datasets.conditions import ConditionError
from exports.jobs.runner import run
from exports.models import DownloadFile, ExportAudit, ExportStatus
from exports.scheduling.saved import run_again
from tests.test_exact_rows import SEED, Case, export, login, people, seed_rows, shown_ids

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
PREPARE = "tests.hostapp.middleware.prepare_replay"


@pytest.fixture
def users():
    seed_rows(random.Random(SEED))
    return people()


def ids_in(audit: ExportAudit) -> list[str]:
    with DownloadFile.objects.get(audit=audit).open() as handle:
        rows = list(csv.reader(io.StringIO(handle.read().decode())))
    return [row[0] for row in rows[1:]]


def ticked_export(client, users, query: dict[str, str]) -> tuple[ExportAudit, list[str]]:
    """Rows ticked on the changelist with `query`, exported in the background by `pair`."""
    case = Case(0, "deal", "pair", None, query, False, tick_share=1.0)
    login(client, users["pair"], None)
    url = reverse("crm:hostapp_deal_changelist")
    pages = shown_ids(client, url, query)
    got, audit = export(client, case, url, pages)
    assert got == pages[0]
    return audit, got


def test_run_again_without_the_hosts_hook_fails_naming_the_admin_code_and_the_setting(
    client, users
):
    """Refused when asked (Run again checks the export as the worker will run it)."""
    first, _ = ticked_export(client, users, {"active": "no"})
    with pytest.raises(ConditionError) as refused:
        run_again(users["pair"], first)
    said = str(refused.value)
    assert "DealAdmin's changelist failed on a replayed request" in said
    assert "'User' object has no attribute 'is_manager'" in said
    assert "EXPORTS_PREPARE_REQUEST" in said
    assert ExportAudit.objects.count() == 1, "nothing queued"


def test_run_again_with_the_hosts_hook_replays_the_querystring_and_the_ticked_rows(
    client, users, settings
):
    """The filter's default shows active rows only: the replay keeps `?active=no`, so the
    ticked inactive rows all come back, in the changelist's order."""
    settings.EXPORTS_PREPARE_REQUEST = PREPARE
    first, ticked = ticked_export(client, users, {"active": "no", "o": "-5"})
    again = run_again(users["pair"], first).audit
    assert KEY not in again.filters, "a run without a click never reuses another's capture"
    run(str(again.pk))
    again.refresh_from_db()
    assert again.status == ExportStatus.COMPLETED, again.error
    assert ids_in(again) == ticked
    assert again.selection_note == f"{len(ticked)} of {len(ticked)} selected rows."


def test_a_search_that_warns_through_messages_replays_with_the_hook(client, users, settings):
    settings.EXPORTS_PREPARE_REQUEST = PREPARE
    first, ticked = ticked_export(client, users, {"active": "all", "q": "Ltd"})
    again = run_again(users["pair"], first).audit
    run(str(again.pk))
    again.refresh_from_db()
    assert again.status == ExportStatus.COMPLETED, again.error
    assert ids_in(again) == ticked


def test_rows_deleted_since_the_click_are_counted_in_words(client, users):
    case = Case(0, "deal", "manager", None, {"active": "all"}, False, tick_share=1.0)
    login(client, users["manager"], None)
    url = reverse("crm:hostapp_deal_changelist")
    pages = shown_ids(client, url, case.query)
    ticked = pages[0]
    data = {
        "action": "export_rows",
        "_selected_action": ticked,
        "index": "0",
        "post": "yes",
        "format": "csv",
        "delivery": "email",
        "values": "raw",
        "columns": ["id", "title"],
        "time_zone": "UTC",
        "lifetime_hours": 24,
    }
    client.post(url + "?active=all", data)
    audit = ExportAudit.objects.get()
    from tests.hostapp.models import Deal

    Deal.objects.filter(pk__in=ticked[:2]).delete()
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.COMPLETED, audit.error
    assert ids_in(audit) == ticked[2:]
    n = len(ticked)
    expected = f"{n - 2} of {n} selected rows; 2 no longer exist or no longer match"
    assert audit.selection_note.startswith(expected)
    assert audit.notes.startswith(expected), "the API and the audit admin show the notes"
    [sent] = mail.outbox
    assert f"It holds {expected}" in sent.body
    assert "Download it here: http://testserver/downloads/" in sent.body, "the host asked on"
    page = client.get(reverse("exports:my-downloads")).content.decode()
    assert expected in page


def test_a_tampered_capture_is_refused_and_never_unpickled(client, users):
    first, _ = ticked_export(client, users, {"active": "all"})
    forged = dict(first.filters)
    forged[KEY] = forged[KEY][:-3] + ("AAA" if not forged[KEY].endswith("AAA") else "BBB")
    audit = ExportAudit.objects.create(
        dataset=first.dataset,
        format="csv",
        filters=forged,
        options=first.options,
        requested_by=users["pair"],
        requested_by_display="pair",
    )
    run(str(audit.pk))
    audit.refresh_from_db()
    assert audit.status == ExportStatus.FAILED
    assert audit.error == "The export's captured rows do not carry a valid signature."


def test_a_background_export_as_shown_with_a_column_that_needs_the_page_is_refused_by_name(
    client, users
):
    login(client, users["manager"], 1)
    url = reverse("crm:hostapp_deal_changelist")
    pages = shown_ids(client, url, {})
    data = {
        "action": "export_rows",
        "_selected_action": pages[0],
        "index": "0",
        "post": "yes",
        "format": "csv",
        "delivery": "background",
        "values": "display",
        "columns": ["id"],
        "time_zone": "UTC",
        "lifetime_hours": 24,
    }
    response = client.post(url, data)
    assert response.status_code == 302
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said == [
        "Column “Desk” needs the live page: export it immediately or choose raw values."
    ]
    assert not ExportAudit.objects.exists()
    immediate = client.post(url, {**data, "delivery": "immediate"})
    assert immediate.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(immediate.streaming_content).decode())))
    assert rows[0][-1] == "Desk" and {r[-1] for r in rows[1:]} == {"desk 1"}
