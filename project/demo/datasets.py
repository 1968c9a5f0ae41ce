"""The demo's four datasets (seed 000), declared the way any host app declares its own:
a `datasets.py` that Exportdesk discovers at start-up.

The `users` dataset follows whatever user model the project uses: the login field is
USERNAME_FIELD, and optional fields (names, e-mail, joined) are exported when the model has
them.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist

from exports.datasets import Column, Dataset, registry

RANGE = {"created": "created", "id": "pk"}


def has_field(model, name: str) -> bool:
    if name == "pk":  # the ORM's alias, fine in a filter
        return True
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def user_columns() -> tuple[Column, ...]:
    User = get_user_model()
    wanted = [
        ("id", User._meta.pk.name, "User ID"),
        ("username", User.USERNAME_FIELD, "Username"),
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("email", User.get_email_field_name()),
        ("is_active", "is_active"),
        ("created", "date_joined", "Joined"),
        ("last_login", "last_login"),
    ]
    taken: set[str] = set()
    columns = []
    for spec in wanted:
        if spec[1] in taken or not has_field(User, spec[1]):
            continue
        taken.add(spec[1])
        columns.append(Column(*spec))
    return tuple(columns)


def user_filters() -> dict[str, str]:
    candidates = {"created": "date_joined", "id": "pk", "is_active": "is_active"}
    return {name: path for name, path in candidates.items() if has_field(get_user_model(), path)}


def per_user(*specs: tuple[str, str, str]) -> tuple[Column, ...]:
    """A row a user owns: its id, the user's id and login, `specs`, then when it happened."""
    login = "user__" + get_user_model().USERNAME_FIELD
    head = [("id", "id", "ID"), ("user_id", "user_id", "User ID"), ("username", login, "Username")]
    return tuple(Column(*spec) for spec in [*head, *specs, ("created", "created", "Created")])


registry.register(
    Dataset(
        name="users",
        title="Users",
        model_label=get_user_model()._meta.label,
        description="Accounts; never passwords or other secrets.",
        columns=user_columns(),
        filters=user_filters(),
    ),
    Dataset(
        name="user_points",
        title="User points",
        model_label="demo.UserPoint",
        description="Points earned per user, task and game.",
        # The username, game and task names only label each row: whoever may view the points
        # may export them (the default would also ask for view_user, view_game, view_task).
        permissions=("demo.view_userpoint",),
        columns=per_user(
            ("game_id", "game_id", "Game ID"),
            ("game", "game__name", "Game"),
            ("task_id", "task_id", "Task ID"),
            ("task", "task__name", "Task"),
            ("points", "points", "Points"),
        ),
        filters={
            **RANGE,
            "game": "game_id",
            "task": "task_id",
            "user": "user_id",
            "points": "points",
        },
    ),
    Dataset(
        name="user_interactions",
        title="User interactions",
        model_label="demo.UserInteraction",
        description="User actions with their JSON data; game/task live inside the data.",
        columns=per_user(("action", "action", "Action"), ("data", "data", "Data")),
        filters={**RANGE, "user": "user_id", "action": "action"},
    ),
    Dataset(
        name="wallet_transactions",
        title="Wallet transactions",
        model_label="demo.WalletTransaction",
        description="Money moving in and out of user wallets.",
        columns=per_user(
            ("amount", "amount", "Amount"), ("kind", "kind", "Kind"), ("note", "note", "Note")
        ),
        filters={**RANGE, "user": "user_id", "kind": "kind", "amount": "amount"},
    ),
)
