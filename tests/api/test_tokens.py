"""Personal tokens: made by the command or on their owner's page, shown once, stored hashed,
revocable by their owner and by admins."""

import hashlib
import io
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from exports.models import ApiToken
from tests.api.conftest import create_token
from tests.conftest import make_user

TOKEN = re.compile(r"exd_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def alice(db) -> User:
    """Tokens are made by people who may export: staff with exports.export_data."""
    return make_user("alice", export=True)


def test_the_command_prints_the_token_once_and_stores_only_its_hash(alice):
    token = create_token("alice", "Power BI")
    assert TOKEN.fullmatch(token)
    stored = ApiToken.objects.get()
    assert stored.owner == alice and stored.label == "Power BI" and stored.expires_at is None
    assert stored.hash == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(f"exd_{stored.prefix}_") and stored.hint == f"exd_{stored.prefix}…"
    assert token not in str(ApiToken.objects.values().get())


def test_the_command_refuses_unknown_users_and_bad_expiry(db):
    with pytest.raises(CommandError, match="No user 'ghost'"):
        call_command("create_export_token", "ghost", "--label", "x", stdout=io.StringIO())
    User.objects.create_user("carol")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("create_export_token", "carol", "--label", "x", "--expires-days", "0")
    assert not ApiToken.objects.exists()


def test_two_tokens_never_share_a_secret_or_prefix(alice):
    first, second = create_token("alice"), create_token("alice")
    assert first != second
    assert len(set(ApiToken.objects.values_list("prefix", flat=True))) == 2


def test_the_tokens_page_needs_a_login(client, db):
    response = client.get(reverse("exports:api-tokens"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_my_downloads_links_to_the_tokens_page(client, alice):
    client.force_login(alice)
    page = client.get(reverse("exports:my-downloads")).content.decode()
    assert reverse("exports:api-tokens") in page


def test_a_token_made_on_the_page_is_shown_once(client, alice):
    client.force_login(alice)
    new = {"label": "Notebook", "password": "pw-alice"}  # noqa: S105 - make_user's
    response = client.post(reverse("exports:api-tokens"), new)
    assert response.status_code == 200
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}
    secret = TOKEN.search(response.content.decode()).group(0)
    stored = ApiToken.objects.get(owner=alice)
    assert stored.matches(secret) and stored.label == "Notebook"
    later = client.get(reverse("exports:api-tokens")).content.decode()
    assert secret not in later and stored.hint in later and "Notebook" in later


def test_the_page_validates_its_form(client, alice):
    client.force_login(alice)
    response = client.post(reverse("exports:api-tokens"), {"label": "", "expires_days": "0"})
    assert response.status_code == 200 and not TOKEN.search(response.content.decode())
    assert not ApiToken.objects.exists()


def test_creating_and_revoking_need_csrf(alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.post(reverse("exports:api-tokens"), {"label": "x"}).status_code == 403
    token, _ = ApiToken.issue(alice, "kept")
    revoke = reverse("exports:revoke-api-token", args=[token.pk])
    assert browser.post(revoke).status_code == 403
    assert ApiToken.objects.get().revoked_at is None


def test_owners_revoke_their_own_tokens_only(client, alice, bob):
    mine, _ = ApiToken.issue(alice, "mine")
    theirs, _ = ApiToken.issue(bob, "theirs")
    client.force_login(alice)
    assert client.get(reverse("exports:revoke-api-token", args=[mine.pk])).status_code == 405
    response = client.post(reverse("exports:revoke-api-token", args=[mine.pk]))
    assert response.status_code == 302
    assert client.post(reverse("exports:revoke-api-token", args=[theirs.pk])).status_code == 404
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.state == "revoked" and theirs.state == "active"
    page = client.get(reverse("exports:api-tokens")).content.decode()
    assert "theirs" not in page and "revoked" in page


def test_admins_see_tokens_without_secrets_and_revoke_any(client, alice, db):
    admin = User.objects.create_superuser("root", "root@example.com", "pw")
    token, secret = ApiToken.issue(alice, "alice's script")
    client.force_login(admin)
    changelist = client.get(reverse("admin:exports_apitoken_changelist")).content.decode()
    assert token.hint in changelist and secret not in changelist and token.hash not in changelist
    detail = client.get(reverse("admin:exports_apitoken_change", args=[token.pk])).content
    assert token.hash.encode() not in detail and secret.encode() not in detail
    assert client.get(reverse("admin:exports_apitoken_add")).status_code == 403
    response = client.post(
        reverse("admin:exports_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302
    assert ApiToken.objects.get().state == "revoked"
