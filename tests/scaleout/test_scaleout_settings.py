"""The "Scale-out" block of project/settings.py, read from the environment as a deployment would."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.scaleout.conftest import settings_from_env


def test_without_scale_out_variables_the_orm_broker_and_the_filesystem_stay_the_default():
    built = settings_from_env({})
    assert built["Q_CLUSTER"]["orm"] == "default" and "redis" not in built["Q_CLUSTER"]
    # No "exports" alias: Exportdesk's private filesystem storage in EXPORTS_ROOT.
    assert "exports" not in built["STORAGES"]
    assert built["EXPORTS_ROOT"].name == "exports"
    assert built["EXPORTS_X_ACCEL_REDIRECT"] == ""
    assert built["EXPORTS_PRESIGNED_SECONDS"] == 300


def test_q_broker_redis_replaces_the_orm_broker_with_the_redis_url():
    built = settings_from_env({"Q_BROKER": "redis", "REDIS_URL": "redis://10.0.0.5:6380/2"})
    q_cluster = built["Q_CLUSTER"]
    assert "orm" not in q_cluster
    assert q_cluster["redis"] == "redis://10.0.0.5:6380/2"
    assert q_cluster["retry"] > q_cluster["timeout"]


def test_an_unknown_broker_is_refused_at_startup():
    with pytest.raises(ImproperlyConfigured, match="Q_BROKER"):
        settings_from_env({"Q_BROKER": "rabbit"})


def test_an_s3_bucket_makes_the_exports_storage_private_signed_and_never_overwriting():
    built = settings_from_env(
        {
            "EXPORTS_S3_BUCKET": "exports",
            "EXPORTS_S3_ENDPOINT_URL": "http://s3.internal:8333",
            "EXPORTS_S3_ACCESS_KEY": "AK",
            "EXPORTS_S3_SECRET_KEY": "SK",
            "EXPORTS_PRESIGNED_SECONDS": "60",
        }
    )
    exports = built["STORAGES"]["exports"]
    assert exports["BACKEND"] == "storages.backends.s3.S3Storage"
    options = exports["OPTIONS"]
    assert options["bucket_name"] == "exports"
    assert options["endpoint_url"] == "http://s3.internal:8333"
    assert (options["access_key"], options["secret_key"]) == ("AK", "SK")
    assert options["region_name"] == "us-east-1" and options["addressing_style"] == "path"
    assert options["signature_version"] == "s3v4"
    assert options["querystring_auth"] is True and options["custom_domain"] is None
    assert options["file_overwrite"] is False and options["default_acl"] is None
    assert built["EXPORTS_PRESIGNED_SECONDS"] == 60 == options["querystring_expire"]


def test_empty_s3_credentials_leave_boto3_to_find_its_own():
    options = settings_from_env({"EXPORTS_S3_BUCKET": "exports"})["STORAGES"]["exports"]["OPTIONS"]
    assert options["access_key"] is None and options["secret_key"] is None
    assert options["endpoint_url"] is None


def test_x_accel_redirect_prefix_comes_from_the_environment():
    built = settings_from_env({"EXPORTS_X_ACCEL_REDIRECT": "/protected-exports/"})
    assert built["EXPORTS_X_ACCEL_REDIRECT"] == "/protected-exports/"
