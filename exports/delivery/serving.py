"""How the bytes of an owned, unexpired download file reach the browser.

The view has already checked the owner and the expiry; this module only picks the transport:

- an S3-compatible storage: a 302 to a presigned URL minted now, valid for at most
  EXPORTS_PRESIGNED_SECONDS and never beyond the file's own expiry;
- the filesystem behind nginx (EXPORTS_X_ACCEL_REDIRECT set): an empty response whose
  X-Accel-Redirect header tells nginx which internal location to send;
- otherwise Django streams the file itself (FileResponse, sendfile under gunicorn).
"""

import logging
import math
from datetime import datetime
from urllib.parse import quote

from django.core.files.storage import FileSystemStorage, Storage
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header

from exports.conf import app_settings
from exports.delivery.storage import exports_storage
from exports.models import DownloadFile

log = logging.getLogger(__name__)


def serve(request: HttpRequest, file: DownloadFile) -> HttpResponse:
    storage = exports_storage()
    if is_s3(storage):
        if signs_urls(storage):
            response = presigned_redirect(storage, file)
        else:
            # An unsigned URL would let anyone with the link fetch the file: stream instead.
            log.warning("exports storage does not sign URLs; streaming %s through Django", file.pk)
            response = file_response(file)
    elif isinstance(storage, FileSystemStorage) and app_settings.X_ACCEL_REDIRECT:
        response = accel_redirect(file)
    else:
        response = file_response(file)
    patch_cache_control(response, private=True, no_store=True)
    return response


def is_s3(storage: Storage) -> bool:
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:  # django-storages[s3] not installed: it cannot be configured either
        return False
    return isinstance(storage, S3Storage)


def signs_urls(storage) -> bool:
    """A custom domain gives plain URLs unless a CloudFront signer signs them."""
    if not storage.querystring_auth:
        return False
    return not storage.custom_domain or bool(getattr(storage, "cloudfront_signer", None))


def attachment(file: DownloadFile) -> str:
    """The same header Django's FileResponse builds (quoted, RFC 5987 for non-ASCII)."""
    return content_disposition_header(True, file.filename)


def presign_seconds(file: DownloadFile, now: datetime | None = None) -> int:
    """The link dies with the file, or sooner; always at least one second."""
    left = (file.expires_at - (now or timezone.now())).total_seconds()
    return max(1, min(app_settings.PRESIGNED_SECONDS, math.floor(left)))


def presigned_url(storage, file: DownloadFile) -> str:
    parameters = {
        "ResponseContentDisposition": attachment(file),
        "ResponseContentType": file.content_type,
        "ResponseCacheControl": "private, no-store",
    }
    return storage.url(file.stored_name, parameters=parameters, expire=presign_seconds(file))


def presigned_redirect(storage, file: DownloadFile) -> HttpResponse:
    response = HttpResponseRedirect(presigned_url(storage, file))
    # The signed URL is a bearer token: keep it out of Referer headers on the way.
    response["Referrer-Policy"] = "no-referrer"
    return response


def accel_redirect(file: DownloadFile) -> HttpResponse:
    prefix = app_settings.X_ACCEL_REDIRECT.rstrip("/") + "/"
    response = HttpResponse(content_type=file.content_type)
    response["X-Accel-Redirect"] = prefix + quote(file.stored_name.lstrip("/"))
    response["Content-Disposition"] = attachment(file)
    return response


def file_response(file: DownloadFile) -> FileResponse:
    return FileResponse(
        file.open(), as_attachment=True, filename=file.filename, content_type=file.content_type
    )
