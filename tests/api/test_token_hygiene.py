"""A stolen session must not mint a lasting credential (issue 20, finding 9): the tokens page
asks for the current password; a new password, a password switched off, or a deactivated
account revokes every token of that user, while Django re-hashing the same password at login
(a hasher upgrade) keeps them."""

import re

import pytest
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from exports.models import ApiToken
from tests.api.conftest import create_token
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
TOKEN = re.compile(r"exd_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")
DATASETS = "/api/v1/exports/datasets/"
# make_user's throwaway passwords, and a new one the validators accept.
ALICES, BOBS, NEW = "pw-alice", "pw-bob", "Q7v!new-one"  # noqa: S105


@pytest.fixture
def alice(db) -> User:
    return make_user("alice", export=True)


def api_status(secret: str) -> int:
    return Client().get(DATASETS, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code


def create_on_the_page(client, **fields) -> str:
    response = client.post(reverse("exports:api-tokens"), {"label": "Notebook", **fields})
    assert response.status_code == 200
    return response.content.decode()


def test_creating_a_token_on_the_page_needs_the_current_password(client, alice):
    client.force_login(alice)
    page = create_on_the_page(client)
    assert "This field is required" in page and not TOKEN.search(page)
    page = create_on_the_page(client, password=BOBS)
    assert "Your password is not correct" in page and not TOKEN.search(page)
    assert BOBS not in page, "the password typed is never echoed"
    assert not ApiToken.objects.exists()
    page = create_on_the_page(client, password=ALICES)
    assert ApiToken.objects.get(owner=alice).matches(TOKEN.search(page).group(0))


def test_a_user_without_a_password_is_sent_to_an_administrator(client, alice):
    alice.set_unusable_password()
    alice.save()
    client.force_login(alice)
    page = create_on_the_page(client, password="")
    assert "Your account has no password" in page and "create_export_token" in page
    assert not ApiToken.objects.exists()


def test_a_new_password_revokes_every_token_of_that_user(alice):
    bob = make_user("bob", export=True)
    mine, theirs = create_token("alice"), create_token("bob")
    assert api_status(mine) == 200
    form = PasswordChangeForm(
        alice,
        {"old_password": ALICES, "new_password1": NEW, "new_password2": NEW},
    )
    assert form.is_valid(), form.errors
    form.save()
    response = Client().get(DATASETS, HTTP_AUTHORIZATION=f"Bearer {mine}")
    assert response.status_code == 401 and "password changed" in response.json()["detail"]
    assert ApiToken.objects.get(owner=alice).state == "revoked"
    assert api_status(theirs) == 200 and ApiToken.objects.get(owner=bob).state == "active"


def test_set_password_by_any_path_and_a_disabled_password_revoke_tokens(alice):
    first = create_token("alice", "first")
    alice.set_password("another")  # what manage.py changepassword and the admin's form do
    alice.save()
    assert api_status(first) == 401
    second = create_token("alice", "second")
    alice.set_unusable_password()  # the admin's "password-based authentication: disabled"
    alice.save()
    assert api_status(second) == 401
    assert set(ApiToken.objects.values_list("revoked_reason", flat=True)) == {"password changed"}


def test_signing_in_and_a_rehash_of_the_same_password_keep_tokens(alice, settings):
    secret = create_token("alice")
    before = User.objects.get(pk=alice.pk).password
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    assert Client().login(username="alice", password=ALICES)  # upgrades the stored hash
    after = User.objects.get(pk=alice.pk)
    assert after.password != before and after.password.startswith("pbkdf2_sha1$")
    assert after.last_login is not None
    alice.refresh_from_db()
    alice.first_name = "Alice"
    alice.save()  # an edit that leaves the password alone
    assert api_status(secret) == 200


def test_deactivating_a_user_revokes_their_tokens_for_good(alice):
    secret = create_token("alice")
    alice.is_active = False
    alice.save()
    assert ApiToken.objects.get().revoked_reason == "account deactivated"
    alice.is_active = True
    alice.save()
    assert api_status(secret) == 401
