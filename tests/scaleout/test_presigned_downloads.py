"""Downloads from S3: the owner is redirected to a short-lived presigned URL, minted per request."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit, urlunsplit

from django.urls import reverse
from django.utils.http import content_disposition_header

from exports.delivery.filenames import safe_filename
from tests.conftest import wait_for
from tests.factories import finished_file
from tests.scaleout.conftest import fetch


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def redirect_for(client, user, file) -> str:
    client.force_login(user)
    response = client.get(file.get_absolute_url())
    assert response.status_code == 302
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}
    return response["Location"]


def test_owner_is_redirected_to_a_presigned_url_that_serves_the_file_as_an_attachment(
    client, alice, s3_exports
):
    file = finished_file(alice, body=b"id,name\n1,x\n")
    url = redirect_for(client, alice, file)
    query = query_of(url)
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256" and query["X-Amz-Signature"]
    assert int(query["X-Amz-Expires"]) == 300
    fetched = fetch(url)
    assert fetched.status == 200
    assert fetched.body == b"id,name\n1,x\n"
    assert fetched.headers["Content-Disposition"] == content_disposition_header(True, file.filename)
    assert fetched.headers["Content-Type"] == "text/csv"
    assert fetched.headers["Cache-Control"] == "private, no-store"


def test_a_non_ascii_filename_reaches_the_browser_in_the_same_safe_header_django_builds(
    client, alice, s3_exports
):
    file = finished_file(alice)
    file.filename = 'données "été".csv'
    file.save(update_fields=["filename"])
    fetched = fetch(redirect_for(client, alice, file))
    assert fetched.status == 200
    expected = content_disposition_header(True, safe_filename(file.filename))  # as the view
    assert expected == "attachment; filename*=utf-8''donn%C3%A9es%20_%C3%A9t%C3%A9_.csv"
    assert fetched.headers["Content-Disposition"] == expected


def test_another_user_gets_404_and_no_url(client, alice, bob, s3_exports):
    file = finished_file(alice)
    client.force_login(bob)
    response = client.get(file.get_absolute_url())
    assert response.status_code == 404
    assert "Location" not in response


def test_an_expired_file_gets_410_and_no_url(client, alice, s3_exports):
    file = finished_file(alice, expires_in=timedelta(seconds=-1))
    client.force_login(alice)
    response = client.get(file.get_absolute_url())
    assert response.status_code == 410
    assert "X-Amz-Signature" not in response.content.decode()


def test_the_presigned_url_stops_working_once_it_expires(client, alice, settings, s3_exports):
    settings.EXPORTS_PRESIGNED_SECONDS = 2
    file = finished_file(alice, body=b"soon gone\n")
    url = redirect_for(client, alice, file)
    assert int(query_of(url)["X-Amz-Expires"]) == 2
    assert fetch(url).status == 200
    wait_for(lambda: fetch(url).status == 403, timeout=30, what="the presigned URL to expire")


def test_the_presigned_url_never_outlives_the_file(client, alice, s3_exports):
    file = finished_file(alice, expires_in=timedelta(seconds=30))
    url = redirect_for(client, alice, file)
    assert 28 <= int(query_of(url)["X-Amz-Expires"]) <= 30


def test_a_tampered_signature_is_refused_by_the_store(client, alice, s3_exports):
    file = finished_file(alice)
    url = redirect_for(client, alice, file)
    parts = urlsplit(url)
    signature = query_of(url)["X-Amz-Signature"]
    forged = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    tampered = urlunsplit(parts._replace(query=parts.query.replace(signature, forged)))
    assert fetch(tampered).status == 403
    other_key = urlunsplit(parts._replace(path=parts.path.replace(file.filename, "other.csv")))
    assert fetch(other_key).status == 403
    assert fetch(url).status == 200


def test_each_download_mints_a_new_url_and_the_list_page_holds_none(client, alice, s3_exports):
    file = finished_file(alice)
    client.force_login(alice)
    page = client.get(reverse("exports:my-downloads")).content.decode()
    assert file.get_absolute_url() in page
    assert "X-Amz-Signature" not in page and "X-Amz-Credential" not in page
    assert s3_exports.endpoint_url not in page


def test_a_store_configured_without_signed_urls_is_streamed_through_django_instead(
    client, alice, settings, s3_exports
):
    exports = settings.STORAGES["exports"]
    unsigned = {**exports, "OPTIONS": {**exports["OPTIONS"], "querystring_auth": False}}
    settings.STORAGES = {**settings.STORAGES, "exports": unsigned}
    file = finished_file(alice, body=b"id\n1\n")
    client.force_login(alice)
    response = client.get(file.get_absolute_url())
    assert response.status_code == 200 and "Location" not in response
    assert b"".join(response.streaming_content) == b"id\n1\n"
    assert set(response["Cache-Control"].split(", ")) == {"private", "no-store"}
