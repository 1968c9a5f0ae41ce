"""Saved exports that run again: schedules (timing, the due-run claim), their recipients and
deliveries, and the incremental sent log. Builds on jobs/ (every run is an ordinary queued
export) and delivery/; the admin, the web views and the commands call into it.
"""
