class CrmRouter:
    """The host's models are read from their own alias (a mirror of the default database in
    the tests) and written to the default one."""

    def db_for_read(self, model, **hints):
        return "crm_reads" if model._meta.app_label == "hostapp" else None

    def db_for_write(self, model, **hints):
        return "default" if model._meta.app_label == "hostapp" else None

    def allow_migrate(self, db, app_label, **hints):
        return db == "default" if app_label == "hostapp" else None
