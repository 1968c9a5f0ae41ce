"""The published OpenAPI document is valid OpenAPI 3.1 and describes every endpoint."""

from django.test import Client
from openapi_spec_validator import validate

from exports.api import urls


def test_the_document_is_valid_openapi_3_1(db):
    response = Client().get("/api/v1/exports/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "http://testserver/api/v1/exports"}]


def test_every_route_is_documented_with_its_problems(db):
    document = Client().get("/api/v1/exports/openapi.json").json()
    documented = set(document["paths"])
    routes = {
        "/" + str(p.pattern).replace("<uuid:pk>", "{id}").replace("<str:dataset>", "{dataset}")
        for p in urls.urlpatterns
        if p.name != "unknown"
    }
    assert routes == documented
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters" or path == "/openapi.json":
                continue
            assert {"401", "429"} <= set(operation["responses"]), (path, method)
