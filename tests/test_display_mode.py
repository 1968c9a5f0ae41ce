"""Changelist exports "as shown in the admin": list_display's columns, headings and values."""

import csv
import io
import json
import math
import random
import warnings
from datetime import datetime

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape as html_escape
from django.utils.safestring import mark_safe
from openpyxl import load_workbook

from exports.admin.mixin import ExportMixin
from exports.datasets.changelist import DisplayDataset, dataset_for
from exports.datasets.conditions import ConditionError
from exports.engine import export
from exports.formats import WRITERS
from exports.jobs.accept import queue_export
from exports.jobs.runner import run
from exports.models import Delivery, DownloadFile, ExportAudit, ExportStatus
from project.demo.admin import ExportingUserAdmin, UserPointAdmin, WalletTransactionAdmin
from project.demo.models import UserPoint, WalletTransaction
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
WALLET = "admin:demo.wallettransaction"
POINTS = "admin:demo.userpoint"
DISPLAY = {"values": "display"}
KIND_LABELS = {"deposit": "Deposit", "withdrawal": "Withdrawal", "reward": "Reward"}
KIND_LABELS["purchase"] = "Purchase"


@pytest.fixture
def clerk(db) -> User:
    """Staff who may export and view the demo's points, wallet transactions and users."""
    user = make_user("clerk", staff=True, export=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_wallettransaction", "view_user"])
    )
    return User.objects.get(pk=user.pk)  # a fresh object: no stale permission cache


def swap_admin(monkeypatch, model, admin_class) -> None:
    """The export looks the ModelAdmin up in admin.site, as the worker does."""
    monkeypatch.setitem(admin.site._registry, model, admin_class(model, admin.site))


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode())))


def export_bytes(dataset, fmt: str = "csv", filters=None) -> bytes:
    out = io.BytesIO()
    export(out, dataset, fmt, filters)
    return out.getvalue()


def signed(amount) -> str:
    return "in" if amount >= 0 else "out"


def test_a_changelist_exports_its_columns_headings_and_values_as_shown(clerk, demo_data, settings):
    """A choice field as its label, a foreign key as str(), a callable's HTML as text; a
    date-time is the same instant as in raw mode, whatever the site's zone."""
    settings.TIME_ZONE = "America/New_York"
    dataset = dataset_for(WALLET, clerk, {}, display=True)
    rows = csv_rows(export_bytes(dataset))
    assert rows[0] == ["ID", "User", "Kind", "Amount", "In/out", "Created"]
    expected = [
        [str(t.pk), t.user.username, KIND_LABELS[t.kind], str(t.amount), signed(t.amount)]
        for t in WalletTransaction.objects.select_related("user").order_by("-pk")
    ]
    assert len(expected) > 50 and [r[:5] for r in rows[1:]] == expected
    # In the changelist's order: newest first, its deterministic default.
    created = WalletTransaction.objects.order_by("-pk").values_list("created", flat=True)
    assert [datetime.fromisoformat(r[5]) for r in rows[1:]] == list(created)
    assert {r[4] for r in rows[1:]} == {"in", "out"}, "the demo has both kinds of amount"


def test_model_methods_plain_functions_and_boolean_callables_come_out(
    clerk, demo_data, monkeypatch
):
    @admin.display(description="Big?", boolean=True)
    def big(obj: UserPoint) -> bool | None:
        return None if obj.points == 0 else obj.points > 250

    class Shown(UserPointAdmin):
        list_display = ["__str__", "player", "game", "scored", big, "user__email", "created"]

    swap_admin(monkeypatch, UserPoint, Shown)
    dataset = dataset_for(POINTS, clerk, {}, display=True)
    headings = [c.heading for c in dataset.columns]
    assert headings == ["User point", "Player", "Game", "Scored", "Big?", "User  email", "Created"]
    objects = json.loads(export_bytes(dataset, "json"))
    points = UserPoint.objects.select_related("user", "game").order_by("-pk")
    assert len(objects) == points.count()
    for obj, point in zip(objects, points, strict=True):
        user = point.user
        assert obj["str"] == f"{point.points} points"
        assert obj["player"] == (user.get_full_name() or user.username), "no tags, no &#x27;"
        assert obj["game"] == point.game.name
        assert obj["scored"] is (point.points > 0), "a boolean stays a boolean"
        assert obj["big"] == (None if point.points == 0 else point.points > 250)
        assert obj["user__email"] == user.email


def test_html_and_formula_like_names_are_written_as_plain_safe_text(clerk, demo_data):
    """The demo's awkward names: O'Brien, He said "hi", =1+1 behind a mailto link."""
    User.objects.filter(username="player0000000").update(first_name="", last_name="=1+1")
    User.objects.filter(username="player0000001").update(first_name="Tom &", last_name="<Jerry>")
    dataset = dataset_for(POINTS, clerk, {}, display=True)
    rows = csv_rows(export_bytes(dataset))
    player = rows[0].index("Player")
    by_user = {r[rows[0].index("User")]: r[player] for r in rows[1:]}
    assert by_user["player0000000"] == "'=1+1", "neutralised like any text"
    assert by_user["player0000001"] == "Tom & <Jerry>", "tags gone, entities unescaped"
    assert not any("<a " in name or "&#" in name for name in by_user.values())


def query_count(dataset, chunk_size: int) -> tuple[int, int]:
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        rows = sum(1 for _ in dataset.rows(chunk_size=chunk_size))
    return rows, len(queries.captured_queries)


@pytest.mark.parametrize(
    "admin_class",
    [
        UserPointAdmin,  # list_select_related names the keys: joined
        WalletTransactionAdmin,  # list_select_related = False: the changelist's own choice
        type("NoJoins", (UserPointAdmin,), {"list_select_related": ()}),  # joined by us
    ],
)
def test_queries_grow_with_chunks_never_with_rows(clerk, demo_data, monkeypatch, admin_class):
    model = UserPoint if issubclass(admin_class, UserPointAdmin) else WalletTransaction
    swap_admin(monkeypatch, model, admin_class)
    name = POINTS if model is UserPoint else WALLET
    dataset = dataset_for(name, clerk, {}, display=True)
    assert any(c.source == "user" for c in dataset.columns), "a foreign key column"
    assert any(c.source == "" for c in dataset.columns), "a callable column"
    chunk = 20
    rows, queries = query_count(dataset, chunk)
    assert rows == model.objects.count() >= 60
    assert queries <= 2 + 2 * math.ceil(rows / chunk), queries


def test_a_nullable_key_select_related_skips_is_prefetched_per_chunk(clerk, demo_data, monkeypatch):
    """select_related() without names (a ModelAdmin's get_queryset, or list_select_related =
    True) leaves nullable keys out: those are fetched a chunk at a time, and the missing ones
    are empty cells."""

    class Audits(ExportMixin, admin.ModelAdmin):
        list_display = ["dataset", "requested_by", "status"]

        def get_queryset(self, request):
            with warnings.catch_warnings():  # deprecated from Django 6.1, common before it
                warnings.simplefilter("ignore", DeprecationWarning)
                warnings.simplefilter("ignore", PendingDeprecationWarning)
                return super().get_queryset(request).select_related()

    swap_admin(monkeypatch, ExportAudit, Audits)
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    ExportAudit.objects.bulk_create(
        ExportAudit(dataset=f"d{n}", format="csv", requested_by=[root, clerk, None][n % 3])
        for n in range(90)
    )
    dataset = dataset_for("admin:exports.exportaudit", root, {}, display=True)
    rows, queries = query_count(dataset, 20)
    assert rows == 90
    assert math.ceil(rows / 20) <= queries <= 2 + 2 * math.ceil(rows / 20), queries
    with transaction.atomic():
        shown = {row[0]: row[1:] for row in dataset.rows(chunk_size=20)}
    assert [shown[f"d{n}"] for n in range(4)] == [
        ["root", "Queued"],
        ["clerk", "Queued"],
        [None, "Queued"],
        ["root", "Queued"],
    ]


def test_the_worker_honours_the_choice_and_xlsx_shows_the_labels(clerk, demo_data):
    accepted = queue_export(clerk, WALLET, "xlsx", {}, DISPLAY)
    assert accepted.audit.options == DISPLAY
    run(str(accepted.audit.pk))
    audit = ExportAudit.objects.get(pk=accepted.audit.pk)
    assert audit.status == ExportStatus.COMPLETED, audit.error
    assert audit.row_count == WalletTransaction.objects.count()
    with DownloadFile.objects.get(audit=audit).open() as handle:
        sheet = load_workbook(io.BytesIO(handle.read()), read_only=True).active
        cells = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert cells[0] == ["ID", "User", "Kind", "Amount", "In/out", "Created"]
    first = WalletTransaction.objects.select_related("user").order_by("-pk").first()
    assert cells[1][:5] == [first.pk, first.user.username, KIND_LABELS[first.kind]] + [
        float(first.amount),
        signed(first.amount),
    ]
    assert cells[1][5] == timezone.localtime(first.created).replace(tzinfo=None)
    assert {row[2] for row in cells[1:]} <= set(KIND_LABELS.values())
    assert len(cells) - 1 == audit.row_count


def post_export(client, query: str = "", **fields):
    ids = list(WalletTransaction.objects.order_by("pk").values_list("pk", flat=True)[:25])
    data = {"action": "export_rows", "_selected_action": ids, **fields}
    return client.post(reverse("admin:demo_wallettransaction_changelist") + query, data), ids


def test_the_options_page_offers_the_choice_and_an_immediate_download_follows_it(
    client, clerk, demo_data
):
    client.force_login(clerk)
    page, _ = post_export(client)
    html = page.content.decode()
    assert 'name="values" value="display"' in html and 'name="values" value="raw"' in html
    assert "ID, User, Kind, Amount, In/out, Created" in html
    response, ids = post_export(
        client, post="yes", format="csv", delivery=Delivery.IMMEDIATE, values="display"
    )
    assert response.status_code == 200, response.content[:300]
    rows = csv_rows(b"".join(response.streaming_content))
    assert rows[0] == ["ID", "User", "Kind", "Amount", "In/out", "Created"]
    assert [int(r[0]) for r in rows[1:]] == sorted(ids, reverse=True)  # the changelist's order
    assert all(r[2] in KIND_LABELS.values() for r in rows[1:])
    audit = ExportAudit.objects.get()
    # The page always names the zone; e-mails would link to the host it was asked on.
    assert audit.options == {**DISPLAY, "time_zone": "UTC", "site_url": "http://testserver"}
    assert audit.status == ExportStatus.COMPLETED


def test_raw_values_stay_the_default(client, clerk, demo_data):
    client.force_login(clerk)
    columns = ["id", "user_id", "username", "amount", "kind", "note", "created"]
    response, ids = post_export(
        client, post="yes", format="csv", delivery=Delivery.IMMEDIATE, columns=columns
    )
    assert response.status_code == 200
    rows = csv_rows(b"".join(response.streaming_content))
    assert rows[0] == ["ID", "User ID", "Username", "Amount", "Kind", "Note", "Created"]
    raw = {t.pk: t.kind for t in WalletTransaction.objects.filter(pk__in=ids)}
    assert [r[4] for r in rows[1:]] == [raw[int(r[0])] for r in rows[1:]], "values, not labels"
    options = ExportAudit.objects.get().options
    assert options == {"time_zone": "UTC", "site_url": "http://testserver"}  # no "values": raw
    assert not isinstance(dataset_for(WALLET, clerk, {}), DisplayDataset)


def test_only_what_the_admin_shows_this_user_never_the_checkbox_or_secrets(
    clerk, demo_data, monkeypatch
):
    class Guarded(WalletTransactionAdmin):
        def get_list_display(self, request):
            shown = ["action_checkbox", "id", "user", "kind", "amount", "direction"]
            return shown if request.user.is_superuser else ["id", "user", "kind"]

    class Secretive(ExportingUserAdmin):
        list_display = ["username", "password", "email", "last_login"]

    swap_admin(monkeypatch, WalletTransaction, Guarded)
    swap_admin(monkeypatch, User, Secretive)
    assert [c.name for c in dataset_for(WALLET, clerk, {}, display=True).columns] == [
        "id",
        "user",
        "kind",
    ]
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    shown = dataset_for(WALLET, root, {}, display=True).columns
    assert [c.name for c in shown] == ["id", "user", "kind", "amount", "direction"]
    users = dataset_for("admin:auth.user", root, {}, display=True)
    assert [c.name for c in users.columns] == ["username", "email", "last_login"]
    body = export_bytes(users).decode()
    assert "pbkdf2" not in body and "root@example.com" in body


def test_a_declared_dataset_has_no_admin_view_to_show(clerk, demo_data):
    with pytest.raises(ConditionError, match="Only an admin changelist"):
        queue_export(clerk, "user_points", "csv", {}, DISPLAY)
    assert not ExportAudit.objects.exists()


def test_filters_row_limit_and_column_choice_apply_as_in_raw_mode(clerk, demo_data):
    dataset = dataset_for(
        WALLET, clerk, {"changelist": "kind__exact=reward"}, ["id", "kind"], display=True
    )
    rows = csv_rows(export_bytes(dataset, filters={"limit": 7}))
    assert rows[0] == ["ID", "Kind"]
    rewards = WalletTransaction.objects.filter(kind="reward").order_by("-pk")[:7]
    assert rows[1:] == [[str(t.pk), "Reward"] for t in rewards]


def test_export_bench_compares_display_mode_with_raw_values(demo_data):
    out = io.StringIO()
    call_command(
        "export_bench",
        "admin:demo.userpoint",
        "--rows",
        "300",
        "--mode",
        "display",
        "--formats",
        "csv",
        stdout=out,
    )
    raw, shown = [json.loads(line) for line in out.getvalue().splitlines()]
    assert (raw["mode"], shown["mode"]) == ("raw", "display")
    assert raw["rows"] == shown["rows"] == 300, (raw, shown)
    assert shown["ratio_vs_raw"] > 0 and shown["rows_per_s"] > 0


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_every_format_writes_a_changelist_as_shown(clerk, demo_data, fmt):
    dataset = dataset_for(POINTS, clerk, {}, display=True)
    out = io.BytesIO()
    result = export(out, dataset, fmt, {"limit": 50}, {"data_dictionary": True})
    assert result.rows == 50 and out.tell() > 0
    kinds = {c.name: c.kind for c in dataset.columns}
    assert kinds["scored"] == "boolean" and kinds["user"] == kinds["player"] == "text"


def test_html_headings_are_text_and_icon_fonts_leave_no_ligature_names(
    clerk, demo_data, monkeypatch
):
    """A heading that is an icon with a title is the title; an icon font's glyph inside a
    cell is no text ("business Tyrell Ltd" was seen); a plain heading loses stray spaces."""
    from django.utils.html import format_html
    from django.utils.safestring import mark_safe

    @admin.display(
        description=mark_safe('<i title="Player name" class="material-icons">subject</i>')  # noqa: S308
    )
    def who(obj: UserPoint) -> str:
        return format_html('<i class="material-icons">business</i> {}', obj.user.username)

    @admin.display(description=" is scored")
    def scored_text(obj: UserPoint) -> str:
        return format_html('<span class="fa fa-check"></span><b>{}</b>', obj.points > 0)

    class Shown(UserPointAdmin):
        list_display = ["id", who, scored_text]

    swap_admin(monkeypatch, UserPoint, Shown)
    dataset = dataset_for(POINTS, clerk, {}, display=True)
    rows = csv_rows(export_bytes(dataset))
    assert rows[0] == ["ID", "Player name", "Is scored"]
    points = UserPoint.objects.select_related("user").order_by("-pk")
    assert [r[1:] for r in rows[1:]] == [[p.user.username, str(p.points > 0)] for p in points]


def shown_cells(clerk, monkeypatch, callables) -> list[dict]:
    """Each row's cells for list_display = ["id", *callables], as the JSON file writes them."""

    class Shown(UserPointAdmin):
        list_display = ["id", *callables]

    swap_admin(monkeypatch, UserPoint, Shown)
    return json.loads(export_bytes(dataset_for(POINTS, clerk, {}, display=True), "json"))


def test_link_image_and_icon_cells_export_their_text_else_alt_or_title_else_the_target(
    clerk, demo_data, monkeypatch
):
    """The documented rule: visible text, else alt/title, else href, else the image's src;
    an icon font's glyph is no text, its title stands in when it is the whole cell."""
    from django.contrib.admin.utils import display_for_value
    from django.utils.html import format_html

    def logo(obj: UserPoint) -> str:
        return format_html('<a href="/u/{}/"><img src="/logo.png" alt="Logo"></a>', obj.pk)

    def flag(obj: UserPoint) -> str:
        return format_html('<i class="material-icons" title="Top {}">verified</i>', obj.points)

    def linked(obj: UserPoint) -> str:
        return format_html('<a href="/u/{}/" title="Open">{}</a>', obj.pk, obj.user.username)

    def bare(obj: UserPoint) -> str:
        return format_html('<a href="/u/{}/"></a>', obj.pk)

    def picture(obj: UserPoint) -> str:
        return format_html('<img src="/p/{}.png">', obj.pk)

    def nested(obj: UserPoint) -> str:
        return format_html(
            '<span class="badge"><i class="fa fa-user"></i> <b>{}</b> <em>{}</em></span>',
            obj.user.username,
            obj.points,
        )

    def entities(obj: UserPoint) -> str:
        return format_html('<a href="?q=1&amp;r=2" title="A &amp; B">R&amp;D {}</a>', "<&>")

    def admin_icon(obj: UserPoint) -> str:
        return display_for_value(obj.points > 0, "-", boolean=True)  # the admin's tick: its alt

    rows = shown_cells(
        clerk, monkeypatch, [logo, flag, linked, bare, picture, nested, entities, admin_icon]
    )
    points = {p.pk: p for p in UserPoint.objects.select_related("user")}
    assert len(rows) == len(points) >= 300
    for row in rows:
        point = points[row["id"]]
        assert row == {
            "id": point.pk,
            "logo": "Logo",
            "flag": f"Top {point.points}",
            "linked": point.user.username,
            "bare": f"/u/{point.pk}/",
            "picture": f"/p/{point.pk}.png",
            "nested": f"{point.user.username} {point.points}",
            "entities": "R&D <&>",
            "admin_icon": str(point.points > 0),
        }


# Fragments for the property test: (kind, words). Ligature names never occur in WORDS.
LIGATURES = ["business", "verified", "check_circle", "star_rate", "home", "account_circle"]
ICON_CLASSES = ["material-icons", "material-symbols-outlined", "fa fa-user", "fas fa-check"]
ICON_CLASSES += ["glyphicon glyphicon-ok", "bi bi-star", "icon icon-user"]
WORDS = ["Tyrell", "Ltd", "Café", "O'Brien", "R&D", "a<b", 'say "hi"', "Zoë", "x > y", "#7"]


def fragment(rng, depth: int = 0) -> dict:
    """A random piece of a cell: the HTML and what the rule reads from it, in document order."""
    kind = rng.choice(["text", "link", "href", "image", "src", "icon", "icon", "nest"])
    word, url = rng.choice(WORDS), f"/{rng.choice(['u', 'g'])}/{rng.randint(1, 99)}/"
    title = rng.choice(["", rng.choice(WORDS)])
    attr = f' title="{html_escape(title)}"' if title else ""
    if kind == "nest" and depth < 2:
        parts = [fragment(rng, depth + 1) for _ in range(rng.randint(0, 3))]
        tag = rng.choice(["span", "b", "a", "div"])
        href = f' href="{url}"' if tag == "a" else ""
        inner = {
            "html": " ".join(p["html"] for p in parts),
            "text": " ".join(p["text"] for p in parts),
        }
        own = {"labels": [title] if title else [], "hrefs": [url] if href else [], "srcs": []}
        return {
            "html": f"<{tag}{href}{attr}>{inner['html']}</{tag}>",
            "text": inner["text"],
            **{k: own[k] + [v for p in parts for v in p[k]] for k in own},
        }
    if kind == "link":
        html = f'<a href="{url}"{attr}>{html_escape(word)}</a>'
        return {
            "html": html,
            "text": word,
            "labels": [title] if title else [],
            "hrefs": [url],
            "srcs": [],
        }
    if kind == "href":
        return {
            "html": f'<a href="{url}"{attr}></a>',
            "text": "",
            "labels": [title] if title else [],
            "hrefs": [url],
            "srcs": [],
        }
    if kind in ("image", "src"):
        alt = word if kind == "image" else ""
        html = f'<img src="{url}img.png"' + (f' alt="{html_escape(alt)}"' if alt else "") + ">"
        return {
            "html": html,
            "text": "",
            "labels": [alt] if alt else [],
            "hrefs": [],
            "srcs": [f"{url}img.png"],
        }
    if kind == "icon":
        tag, glyph = rng.choice(["i", "span"]), rng.choice(LIGATURES)
        html = f'<{tag} class="{rng.choice(ICON_CLASSES)}"{attr}>{glyph}</{tag}>'
        return {
            "html": html,
            "text": "",
            "labels": [title] if title else [],
            "hrefs": [],
            "srcs": [],
        }
    return {"html": html_escape(word), "text": word, "labels": [], "hrefs": [], "srcs": []}


def expected_cell(piece: dict) -> str | None:
    """The rule, read off the fragments rather than parsed from the HTML."""
    text = piece["text"].strip()
    for found in (text, *piece["labels"], *piece["hrefs"], *piece["srcs"]):
        if found.strip():
            return found.strip()
    return None


def test_random_html_cells_follow_the_rule_and_never_leak_ligature_names(
    clerk, demo_data, monkeypatch
):
    rng = random.Random(21)
    cells: dict[tuple[int, int], dict] = {}
    points = list(UserPoint.objects.values_list("pk", flat=True))

    def column(n: int):
        def read(obj: UserPoint) -> str:
            return mark_safe(cells[obj.pk, n]["html"])  # noqa: S308 (built escaped above)

        read.__name__ = f"c{n}"
        return read

    for pk in points:
        for n in range(4):
            pieces = [fragment(rng) for _ in range(rng.randint(1, 4))]
            cells[pk, n] = {
                "html": " ".join(p["html"] for p in pieces),
                "text": " ".join(p["text"] for p in pieces),
                **{k: [v for p in pieces for v in p[k]] for k in ("labels", "hrefs", "srcs")},
            }
    rows = shown_cells(clerk, monkeypatch, [column(n) for n in range(4)])
    assert len(rows) == len(points) >= 300
    kinds = {"text": 0, "label": 0, "target": 0, "empty": 0}
    for row in rows:
        for n in range(4):
            piece, got = cells[row["id"], n], row[f"c{n}"]
            assert got == expected_cell(piece), piece["html"]
            assert not any(glyph in (got or "") for glyph in LIGATURES), piece["html"]
            kind = "empty" if got is None else "text" if piece["text"].strip() else "label"
            kinds["target" if kind == "label" and not piece["labels"] else kind] += 1
    assert all(kinds.values()), kinds  # every branch of the rule was exercised
