"""The download rate limit counts only the user's own, existing files, in one atomic database
upsert: a page full of random download links cannot lock anyone out, and a burst cannot slip
past the limit."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exports.delivery import ratelimit
from exports.delivery.purge import purge_expired
from exports.models import DownloadCounter
from tests.conftest import make_user
from tests.factories import finished_file

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_requests_for_unknown_or_foreign_files_cost_nothing(client, settings):
    settings.EXPORTS_DOWNLOADS_PER_MINUTE = 30
    alice, bob = make_user("alice"), make_user("bob")
    foreign = finished_file(bob)
    client.force_login(alice)
    for _ in range(31):  # what a hostile page of <img src=/downloads/<uuid>/> does
        url = reverse("exports:download", args=[uuid.uuid4()])
        assert client.get(url).status_code == 404
    assert client.get(foreign.get_absolute_url()).status_code == 404
    assert client.get(finished_file(alice).get_absolute_url()).status_code == 200
    assert DownloadCounter.objects.get(user=alice).count == 1


def test_the_limit_holds_without_any_cache_configured(client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    settings.EXPORTS_DOWNLOADS_PER_MINUTE = 2
    alice = make_user("alice")
    url = finished_file(alice).get_absolute_url()
    client.force_login(alice)
    assert [client.get(url).status_code for _ in range(3)] == [200, 200, 429]


def burst(count, threads: int, hits: int) -> list[int]:
    """`threads` threads, each on its own database connection, released together."""
    start = threading.Barrier(threads)
    waits: list[int] = []

    def work() -> None:
        try:
            start.wait()
            mine = [count() for _ in range(hits)]
            waits.extend(mine)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return waits


@pytest.mark.parametrize("bump", [ratelimit.upsert, ratelimit.update_or_insert])
def test_a_concurrent_burst_never_lets_more_than_the_limit_through(settings, monkeypatch, bump):
    assert connection.vendor == "postgresql"
    settings.EXPORTS_DOWNLOADS_PER_MINUTE = 10
    monkeypatch.setattr(ratelimit, "bump", bump)
    user = make_user("alice")
    now = timezone.now()
    waits = burst(lambda: ratelimit.hit(user.pk, now.timestamp()), threads=8, hits=5)
    assert len(waits) == 40
    assert waits.count(0) == 10
    assert DownloadCounter.objects.get(user=user).count == 40


def test_a_concurrent_burst_through_the_view_gets_exactly_the_limit(settings):
    settings.EXPORTS_DOWNLOADS_PER_MINUTE = 5
    alice = make_user("alice")
    url = finished_file(alice).get_absolute_url()

    def fetch() -> int:
        browser = Client()
        browser.force_login(alice)
        return browser.get(url).status_code

    statuses = burst(fetch, threads=6, hits=2)
    assert sorted(statuses) == [200] * 5 + [429] * 7


def test_purge_forgets_old_windows(alice):
    now = timezone.now()
    ratelimit.hit(alice.pk, (now - timedelta(minutes=5)).timestamp())
    ratelimit.hit(alice.pk, now.timestamp())
    assert DownloadCounter.objects.count() == 2
    purge_expired(now=now)
    assert list(DownloadCounter.objects.values_list("count", flat=True)) == [1]
    assert DownloadCounter.objects.get().window_start <= now
