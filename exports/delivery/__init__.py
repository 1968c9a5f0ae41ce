"""Getting files to people: the exports storage, whole-file saves, serving downloads, immediate
responses, e-mail, purge, download guards and the download rate limit.
Imports engine, formats and models; never admin or views."""
