"""Row exactness in a host's admin (tests.hostapp, not the demo), as a property over generated
cases: for a random changelist (narrowing list filters with defaults, FK/choice/date/boolean
filters, date hierarchy, search across relations that talks through messages, ordering by
column and by a callable's admin_order_field, rows scoped by middleware attributes and a
session value, a second AdminSite, string and UUID keys, a router), a random selection (some
ticked rows of one page, or select all), delivery and value mode: the ids in the file, in
order, are exactly the ones that user's changelist shows.

The ground truth is the changelist itself, read page by page through the test client with the
host's middleware. A background export runs the worker's entry point in a thread of its own,
with its own database connection and none of the request's thread-locals (the worker's
situation); one test runs the real qcluster. Every case prints as a seed and a line, so a
failure reproduces with EXACT_ROWS_SEED=<seed>.
"""

import csv
import io
import os
import random
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.urls import reverse

from exportdesk_tools.processes import stop
from exports.jobs.runner import run
from exports.models import DownloadFile, ExportAudit, ExportStatus
from tests.conftest import spawn_qcluster, wait_for
from tests.hostapp.models import STAGES, TIERS, Company, Deal, Region

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SEED = int(os.environ.get("EXACT_ROWS_SEED", "19"))
WORDS = ["Ltd", "North", "an", "GmbH", "zz-none"]
# (admin URL name, the ModelAdmin's sortable list_display positions, filter params)
ADMINS = {
    "deal": ("crm:hostapp_deal_changelist", [1, 2, 3, 4, 5, 6, 7]),
    "company": ("crm:hostapp_company_changelist", [1, 2, 3, 4, 5, 6, 7]),
    "region": ("admin:hostapp_region_changelist", [1, 2]),
}


@dataclass
class Case:
    number: int
    admin: str
    user: str
    department: int | None
    query: dict[str, str]
    select_all: bool
    tick_page: int = 1
    tick_share: float = 0.5
    delivery: str = "background"
    mode: str = "raw"
    ticked: list = field(default_factory=list)

    def __str__(self) -> str:
        how = "all" if self.select_all else f"ticked on page {self.tick_page}"
        return (
            f"case {self.number} (seed {SEED}): {self.admin} as {self.user} "
            f"(session department {self.department}) ?{urlencode(self.query)} {how}, "
            f"{self.delivery}, {self.mode}"
        )


def people() -> dict[str, User]:
    found = {}
    for name, first, departments in [
        ("manager", "manager", ""),
        ("clerk", "", "1"),
        ("pair", "", "1,2"),
    ]:
        user = User.objects.create_user(
            name, f"{name}@example.com", "pw", is_staff=True, first_name=first
        )
        user.last_name = departments
        user.save()
        user.user_permissions.add(
            *Permission.objects.filter(
                codename__in=["export_data", "view_deal", "view_company", "view_region"]
            )
        )
        found[name] = user
    return found


def seed_rows(rng: random.Random) -> None:
    regions = [
        Region.objects.create(code=code, name=name)
        for code, name in [("N", "North"), ("S", "South"), ("EU-W", "West Europe")]
    ]
    companies = []
    for i in range(24):
        companies.append(
            Company.objects.create(
                name=f"{rng.choice(['Tyrell', 'Acme', 'Initech', 'Umbrella'])} {i} "
                f"{rng.choice(['Ltd', 'GmbH', 'Inc'])}",
                region=rng.choice(regions),
                department=rng.choice([1, 2, 3]),
                active=rng.random() < 0.7,
                tier=rng.choice(TIERS)[0],
                founded=date(2020, 1, 1) + timedelta(days=rng.randrange(1500)),
            )
        )
    for i in range(70):
        Deal.objects.create(
            title=f"Deal {i} {rng.choice(['Ltd', 'an offer', 'renewal', 'North'])}",
            company=rng.choice(companies),
            stage=rng.choice(STAGES)[0],
            amount=Decimal(rng.randrange(10, 1000)),
            closed=date(2025, 1, 1) + timedelta(days=rng.randrange(700)),
            department=rng.choice([1, 2, 3]),
            active=rng.random() < 0.7,
        )


def random_query(rng: random.Random, admin: str) -> dict[str, str]:
    query: dict[str, str] = {}
    pick = rng.random
    if admin in ("deal", "company") and pick() < 0.6:
        query["active"] = rng.choice(["yes", "no", "all"])
    if admin == "deal":
        if pick() < 0.3:
            query["stage__exact"] = rng.choice(STAGES)[0]
        if pick() < 0.25:
            query["size"] = rng.choice(["big", "small"])
        if pick() < 0.2:
            query["company__id__exact"] = str(rng.choice(list(Company.objects.all())).pk)
        if pick() < 0.3:
            query["closed__year"] = str(rng.choice([2025, 2026]))
            if pick() < 0.5:
                query["closed__month"] = str(rng.randrange(1, 13))
    if admin == "company":
        if pick() < 0.3:
            query["tier__exact"] = rng.choice(TIERS)[0]
        if pick() < 0.3:
            query["region__code__exact"] = rng.choice(["N", "S", "EU-W"])
    if pick() < 0.35:
        query["q"] = rng.choice(WORDS)
    if pick() < 0.6:
        columns = rng.sample(ADMINS[admin][1], k=rng.choice([1, 2]))
        query["o"] = ".".join(f"{rng.choice(['', '-'])}{c}" for c in columns)
    return query


def make_case(rng: random.Random, number: int, deliveries=("background", "immediate")) -> Case:
    admin = rng.choice(list(ADMINS))
    return Case(
        number=number,
        admin=admin,
        user=rng.choice(["manager", "clerk", "pair"]),
        department=rng.choice([None, None, 1, 2]),
        query=random_query(rng, admin),
        select_all=rng.random() < 0.5,
        tick_page=rng.randrange(1, 4),
        tick_share=rng.random(),
        delivery=rng.choice(deliveries),
        mode=rng.choice(["raw", "display"]),
    )


def login(client, user: User, department: int | None) -> None:
    client.force_login(user)
    session = client.session
    if department is None:
        session.pop("department", None)
    else:
        session["department"] = department
    session.save()


def shown_ids(client, url: str, query: dict[str, str]) -> list[list[str]]:
    """The keys of every page of the changelist, as that user sees it, page by page."""
    pages, number = [], 1
    while True:
        response = client.get(url, {**query, "p": str(number)} if number > 1 else query)
        assert response.status_code == 200, (response.status_code, url, query)
        changelist = response.context["cl"]
        pages.append([str(obj.pk) for obj in changelist.result_list])
        if number >= changelist.paginator.num_pages:
            return pages
        number += 1


def file_ids(body: bytes) -> list[str]:
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    return [row[0] for row in rows[1:]]


def run_in_a_thread_of_its_own(audit_id: str) -> None:
    """The worker's entry point, away from the request's thread (its thread-locals) and on a
    connection of its own."""
    from django.db import connections

    def work() -> None:
        try:
            run(audit_id)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def export(
    client, case: Case, url: str, page_ids: list[list[str]], finish=None
) -> tuple[list, object]:
    """Ticks (or selects all), fills in the options page, submits: (ids in the file, audit)
    or (None, the response) when the export was refused."""
    everything = [pk for page in page_ids for pk in page]
    page = page_ids[min(case.tick_page, len(page_ids)) - 1]
    if case.select_all:
        ticked = page[:1] or everything[:1]
    else:
        ticked = [pk for pk in page if random.Random(pk).random() < case.tick_share] or page[:1]
    case.ticked = ticked
    query = f"?{urlencode(case.query)}" if case.query else ""
    chosen = {"action": "export_rows", "_selected_action": ticked, "index": "0"}
    if case.select_all:
        chosen["select_across"] = "1"
    options = client.post(url + query, chosen)
    assert options.status_code == 200, (case, options.status_code)
    form = options.context["form"]
    columns = [value for value, _ in form.fields["columns"].choices]
    before = set(ExportAudit.objects.values_list("pk", flat=True))
    submit = {
        **chosen,
        "post": "yes",
        "format": "csv",
        "delivery": case.delivery,
        "values": case.mode,
        "columns": columns,
        "time_zone": "UTC",
        "lifetime_hours": form.fields["lifetime_hours"].initial,
    }
    response = client.post(url + query, submit)
    assert response.status_code in (200, 302), (str(case), response.status_code)
    audit = ExportAudit.objects.exclude(pk__in=before).first()
    if audit is None:
        return None, response
    if case.delivery == "immediate":
        assert response.status_code == 200, str(case)
        body = b"".join(response.streaming_content)
    else:
        (finish or run_in_a_thread_of_its_own)(str(audit.pk))
        audit.refresh_from_db()
        assert audit.status == ExportStatus.COMPLETED, (str(case), audit.error)
        with DownloadFile.objects.get(audit=audit).open() as handle:
            body = handle.read()
    audit.refresh_from_db()
    return file_ids(body), audit


def expected_ids(case: Case, page_ids: list[list[str]]) -> list[str]:
    everything = [pk for page in page_ids for pk in page]
    if case.select_all:
        return everything
    ticked = set(case.ticked)
    return [pk for pk in everything if pk in ticked]


def check(client, users: dict[str, User], case: Case, findings: list[str]) -> bool:
    """Adds what went wrong to `findings`; False when the changelist shows no row (the
    admin runs no action then, so there is nothing to export)."""
    login(client, users[case.user], case.department)
    url = reverse(ADMINS[case.admin][0])
    pages = shown_ids(client, url, case.query)
    if not any(pages):
        return False
    got, audit = export(client, case, url, pages)
    if got is None:  # refused: only "as shown" in the background with the thread-local column
        text = " ".join(str(m) for m in get_messages(audit.wsgi_request))
        live_only = case.admin == "deal" and case.mode == "display"
        if not (live_only and case.delivery == "background" and "“Desk” needs the live" in text):
            findings.append(f"{case}: refused: {text or audit.status_code}")
        return True
    want = expected_ids(case, pages)
    if got != want:
        findings.append(f"{case}: file {got} != changelist {want}")
    elif audit.row_count != len(want) or f"{len(want):,}" not in audit.selection_note:
        findings.append(f"{case}: audit says {audit.row_count} / {audit.selection_note!r}")
    return True


def test_every_generated_case_exports_exactly_the_rows_the_changelist_shows(client):
    rng = random.Random(SEED)
    seed_rows(rng)
    users = people()
    findings: list[str] = []
    cases = [make_case(rng, n) for n in range(160)]
    exported = sum(check(client, users, case, findings) for case in cases)
    print(f"{len(cases)} cases ({exported} with rows), seed {SEED}: {len(findings)} findings")
    assert findings == [], "\n".join(findings[:10])
    assert exported >= 0.6 * len(cases), "most generated changelists show rows"
    kinds = {(c.admin, c.select_all, c.delivery, c.mode) for c in cases}
    assert len(kinds) >= 20, "the generator covers the combinations"


def test_ticked_rows_on_a_filter_whose_default_hides_them_all_go_out(client):
    """The website's case: rows ticked on `?active=no` (the filter's default shows active
    rows only) all reach the file, in the changelist's order, in every delivery."""
    rng = random.Random(SEED)
    seed_rows(rng)
    users = people()
    findings: list[str] = []
    n = 0
    for delivery in ("background", "immediate"):
        for mode in ("raw", "display"):
            for admin in ("deal", "company"):
                case = Case(n, admin, "manager", None, {"active": "no", "o": "-1"}, False)
                case.delivery, case.mode, case.tick_share = delivery, mode, 1.0
                check(client, users, case, findings)
                n += 1
    assert findings == [], "\n".join(findings)


def test_a_background_export_in_a_real_qcluster_holds_the_session_scoped_rows(
    client, exports_root, tmp_path
):
    """The CRM's case: a user whose department lives in the session; the worker (a real
    qcluster process) has neither the session nor the middleware's attributes."""
    rng = random.Random(SEED)
    seed_rows(rng)
    users = people()
    worker = spawn_qcluster(
        exports_root, tmp_path / "qcluster.log", DJANGO_SETTINGS_MODULE="tests.settings"
    )

    def finished_by_the_worker(audit_id: str) -> None:
        wait_for(
            lambda: ExportAudit.objects.filter(
                pk=audit_id, status__in=[ExportStatus.COMPLETED, ExportStatus.FAILED]
            ).exists(),
            what="the qcluster to finish the export",
        )

    findings: list[str] = []
    try:
        for n, (admin, mode) in enumerate([("deal", "raw"), ("company", "display")]):
            case = Case(n, admin, "pair", 2, {"active": "all", "q": "a", "o": "-3.1"}, True)
            case.mode = mode
            login(client, users[case.user], case.department)
            url = reverse(ADMINS[admin][0])
            pages = shown_ids(client, url, case.query)
            everything = [pk for page in pages for pk in page]
            assert 0 < len(everything) < Deal.objects.count()
            got, audit = export(client, case, url, pages, finish=finished_by_the_worker)
            if got != everything:
                findings.append(f"{case}: file {got} != changelist {everything}")
            assert audit.selection_note.startswith(f"{len(everything):,} rows, as the")
    finally:
        stop(worker)
    assert findings == []
