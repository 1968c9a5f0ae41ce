"""Filesystem downloads: nginx sends the bytes when EXPORTS_X_ACCEL_REDIRECT is set."""

import os
from urllib.parse import quote

from django.http import FileResponse
from django.utils.http import content_disposition_header

from exports.delivery.filenames import safe_filename
from exports.delivery.storage import exports_storage
from tests.factories import finished_file


def test_with_a_prefix_the_view_answers_with_an_empty_x_accel_redirect_response(
    client, alice, settings
):
    settings.EXPORTS_X_ACCEL_REDIRECT = "/protected-exports/"
    file = finished_file(alice, body=b"id\n1\n")
    client.force_login(alice)
    response = client.get(file.get_absolute_url())
    assert response.status_code == 200
    assert not isinstance(response, FileResponse) and response.content == b""
    assert response["X-Accel-Redirect"] == "/protected-exports/" + quote(file.stored_name)
    assert response["X-Accel-Redirect"].startswith("/protected-exports/exports/")
    assert response["Content-Type"] == "text/csv"
    expected = content_disposition_header(True, safe_filename(file.filename))
    assert response["Content-Disposition"] == expected
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}


def test_the_internal_path_is_url_quoted_and_the_header_stays_safe(client, alice, settings):
    settings.EXPORTS_X_ACCEL_REDIRECT = "/protected-exports"  # without the trailing slash
    file = finished_file(alice)
    storage = exports_storage()
    spaced = file.stored_name.replace("user_points", "user points")
    os.rename(storage.path(file.stored_name), storage.path(spaced))  # the guard wants a real file
    file.stored_name = spaced
    file.filename = 'user "points"\r\n.csv'
    file.save(update_fields=["stored_name", "filename"])
    client.force_login(alice)
    response = client.get(file.get_absolute_url())
    assert response["Content-Disposition"] == 'attachment; filename="user _points_.csv"'
    assert response["X-Accel-Redirect"].startswith("/protected-exports/exports/")
    assert "user%20points" in response["X-Accel-Redirect"]
    assert "\n" not in response["Content-Disposition"]
    expected = content_disposition_header(True, safe_filename(file.filename))
    assert response["Content-Disposition"] == expected


def test_another_user_gets_404_and_no_internal_path(client, alice, bob, settings):
    settings.EXPORTS_X_ACCEL_REDIRECT = "/protected-exports/"
    file = finished_file(alice)
    client.force_login(bob)
    response = client.get(file.get_absolute_url())
    assert response.status_code == 404
    assert "X-Accel-Redirect" not in response


def test_without_the_prefix_django_streams_the_file_itself(client, alice, settings):
    settings.EXPORTS_X_ACCEL_REDIRECT = ""
    file = finished_file(alice, body=b"id\n1\n")
    client.force_login(alice)
    response = client.get(file.get_absolute_url())
    assert isinstance(response, FileResponse)
    assert "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content) == b"id\n1\n"
    expected = content_disposition_header(True, safe_filename(file.filename))
    assert response["Content-Disposition"] == expected
