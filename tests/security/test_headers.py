"""Whatever a file or dataset is called, a download carries one safe Content-Disposition."""

import dataclasses
import re

import pytest

from exports.datasets import registry
from exports.delivery import immediate
from exports.delivery.filenames import safe_filename
from exports.jobs.accept import start_immediate
from exports.models import DownloadFile
from tests.factories import finished_file

NASTY = [
    'quo"te.csv',
    "back\\slash.csv",
    "semi;colon=evil.csv",
    "crlf\r\nSet-Cookie: a=b.csv",
    "tab\tand\x00nul.csv",
    "naïve Ünïcødé 名前.csv",
    "x" * 251 + ".csv",
]
ASCII_HEADER = re.compile(r'attachment; filename="[^"\\;\r\n\x00-\x1f]{1,150}"')
UTF8_HEADER = re.compile(r"attachment; filename\*=utf-8''[A-Za-z0-9%._~!$&'()*+,=:@-]{1,1400}")


def assert_one_safe_header(value: str) -> None:
    assert "\r" not in value and "\n" not in value
    assert ASCII_HEADER.fullmatch(value) or UTF8_HEADER.fullmatch(value), value


@pytest.mark.parametrize("name", NASTY)
def test_file_downloads_send_one_safe_header(client, alice, name):
    file = finished_file(alice)
    DownloadFile.objects.filter(pk=file.pk).update(filename=name.replace("\x00", ""))
    client.force_login(alice)
    response = client.get(file.get_absolute_url())
    assert response.status_code == 200
    assert_one_safe_header(response["Content-Disposition"])
    assert "Set-Cookie" not in response


def test_safe_filename_keeps_the_extension_and_a_bounded_length():
    name = safe_filename("y" * 300 + ".xlsx")
    assert name.endswith(".xlsx") and len(name) <= 150
    assert safe_filename("naïve 名前.csv") == "naïve 名前.csv"
    assert safe_filename('a"b\\c;d\r\ne.csv') == "a_b_c_de.csv"


@pytest.mark.django_db(transaction=True, databases="__all__")
@pytest.mark.parametrize("name", [*NASTY, "z" * 300])
def test_immediate_downloads_send_one_safe_header(staff, demo_data, name):
    audit, source = start_immediate(staff, "user_points", "csv", {"limit": 5}, {})
    dataset = dataclasses.replace(registry.get("user_points"), name=name)
    response = immediate.response(audit, dataset)
    try:
        assert_one_safe_header(response["Content-Disposition"])
        assert b"".join(response.streaming_content)
    finally:
        response.close()
