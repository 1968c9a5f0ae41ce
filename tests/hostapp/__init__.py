"""A host project's app, as real projects write them, for the tests: string and UUID keys, a
second AdminSite, list filters whose defaults narrow, rows scoped by what a middleware put on
request.user and by the session, a changelist_view that sets a thread-local a column reads, a
search that talks through messages, and a router. Nothing here is Exportdesk's demo."""
