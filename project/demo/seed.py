"""Realistic demo data, loaded fast: COPY on PostgreSQL, large batches elsewhere."""

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction

from project.demo.models import Game, Task, UserInteraction, UserPoint, WalletTransaction

# Text that breaks naive exporters: separators, quotes, newlines, unicode, formula triggers.
AWKWARD = [
    "Comma, inside",
    'He said "hi"',
    "Line one\nline two",
    "Ünïcødé — 日本語 🎲",
    "=1+1",
    '=HYPERLINK("http://example.invalid","click")',
    "+SUM(A1:A2)",
    "-2+3",
    "@SUM(1,2)",
    "tab\there",
    "semi;colon",
    "back\\slash",
]
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Zoë", "José", "Søren", "Łucja"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "O'Brien", "Müller"]
GAMES = [
    "Space Quest",
    "Word Hunt",
    "Chess, Blitz",
    'The "Maze"',
    "Sudoku 数独",
    "=cmd|' /C calc'!A0",
]
ACTIONS = ["login", "logout", "start_task", "finish_task", "purchase", "share"]
START = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 20_000


def awkward_or(rng: random.Random, plain: str, chance: float = 0.05) -> str:
    return rng.choice(AWKWARD) if rng.random() < chance else plain


def when(rng: random.Random) -> datetime:
    return START + timedelta(seconds=rng.randrange(300 * 24 * 3600))


def ensure_base(rng: random.Random, users: int) -> None:
    """Users, games and tasks; created once, reused by later top-ups."""
    User = get_user_model()
    if not Game.objects.exists():
        for i, name in enumerate(GAMES * 2):
            game = Game.objects.create(name=f"{name} {i + 1}", created=when(rng))
            Task.objects.bulk_create(
                Task(game=game, name=awkward_or(rng, f"Task {j + 1}", 0.2), created=when(rng))
                for j in range(5)
            )
    missing = users - User.objects.filter(username__startswith="player").count()
    if missing > 0:
        # One real hash shared by all demo players: hashing a million times is pointless.
        password = make_password("demo-player-password")
        first = User.objects.filter(username__startswith="player").count()
        User.objects.bulk_create(
            (
                User(
                    username=f"player{n:07d}",
                    first_name=awkward_or(rng, rng.choice(FIRST)),
                    last_name=AWKWARD[n] if n < len(AWKWARD) else awkward_or(rng, rng.choice(LAST)),
                    email=f"player{n}@example.com",
                    password=password,
                    date_joined=when(rng),
                )
                for n in range(first, first + missing)
            ),
            batch_size=BATCH,
        )


def point_rows(rng: random.Random, n: int, users: list[int], tasks: list[tuple[int, int]]):
    for _ in range(n):
        task_id, game_id = rng.choice(tasks)
        yield (rng.choice(users), game_id, task_id, rng.randint(-50, 500), when(rng))


def interaction_rows(rng: random.Random, n: int, users: list[int], tasks: list[tuple[int, int]]):
    for _ in range(n):
        task_id, game_id = rng.choice(tasks)
        data = {"game": game_id, "task": task_id, "note": awkward_or(rng, "ok", 0.1)}
        yield (rng.choice(users), rng.choice(ACTIONS), json.dumps(data), when(rng))


def wallet_rows(rng: random.Random, n: int, users: list[int]):
    kinds = [k.value for k in WalletTransaction.Kind]
    for _ in range(n):
        amount = Decimal(rng.randint(-10_000, 50_000)) / 100
        note = awkward_or(rng, "", 0.1)
        yield (rng.choice(users), amount, rng.choice(kinds), note, when(rng))


def load(model, columns: list[str], rows: Iterator[tuple]) -> None:
    """Append rows: COPY on PostgreSQL, executemany in large batches elsewhere."""
    table = model._meta.db_table
    if connection.vendor == "postgresql":
        copy_sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)
        return
    # Table and column names come from our own models, never from input.
    marks = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
    batch: list[tuple] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)


def top_up(rows: int, seed: int = 2026) -> int:
    """Make sure at least `rows` user points exist (and a fifth as many of the others)."""
    rng = random.Random(seed + UserPoint.objects.count())
    with transaction.atomic():
        ensure_base(rng, users=max(20, rows // 500))
        users = list(
            get_user_model()
            .objects.filter(username__startswith="player")
            .values_list("id", flat=True)
        )
        tasks = list(Task.objects.values_list("id", "game_id"))
        missing = rows - UserPoint.objects.count()
        if missing <= 0:
            return 0
        load(
            UserPoint,
            ["user_id", "game_id", "task_id", "points", "created"],
            point_rows(rng, missing, users, tasks),
        )
        load(
            UserInteraction,
            ["user_id", "action", "data", "created"],
            interaction_rows(rng, missing // 5, users, tasks),
        )
        load(
            WalletTransaction,
            ["user_id", "amount", "kind", "note", "created"],
            wallet_rows(rng, missing // 5, users),
        )
    return missing
