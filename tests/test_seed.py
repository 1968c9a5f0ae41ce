"""The demo data is realistic and awkward, and loads in bulk."""

from io import StringIO

from django.contrib.auth.models import User
from django.core.management import call_command

from project.demo.models import Game, Task, UserInteraction, UserPoint, WalletTransaction


def test_seed_demo_tops_up_to_the_requested_rows(db):
    out = StringIO()
    call_command("seed_demo", "--rows", "2000", stdout=out)
    assert "Loaded 2000 user points in" in out.getvalue()
    assert UserPoint.objects.count() == 2000
    assert UserInteraction.objects.count() == WalletTransaction.objects.count() == 400
    call_command("seed_demo", "--rows", "2500", stdout=StringIO())
    assert UserPoint.objects.count() == 2500
    assert User.objects.filter(username__startswith="player").count() == 20


def test_seed_demo_includes_text_that_breaks_naive_exporters(db):
    call_command("seed_demo", "--rows", "3000", stdout=StringIO())
    texts = [
        *Game.objects.values_list("name", flat=True),
        *Task.objects.values_list("name", flat=True),
        *User.objects.values_list("first_name", flat=True),
        *User.objects.values_list("last_name", flat=True),
    ]
    joined = "\n".join(texts)
    for needle in [",", '"', "\n", "日本語", "=", "+", "@"]:
        assert needle in joined
    assert any(t.startswith(("=", "+", "-", "@")) for t in texts)


def test_points_belong_to_the_game_of_their_task(db):
    call_command("seed_demo", "--rows", "500", stdout=StringIO())
    assert not UserPoint.objects.exclude(game_id=models_F("task__game_id")).exists()


def models_F(path: str):
    from django.db.models import F

    return F(path)


def test_every_generated_row_points_at_real_users_games_and_tasks(db):
    call_command("seed_demo", "--rows", "1000", stdout=StringIO())
    users = User.objects.values("pk")
    assert UserPoint.objects.count() == 1000
    assert not UserPoint.objects.exclude(user__in=users).exists()
    assert not UserPoint.objects.exclude(task__in=Task.objects.values("pk")).exists()
    assert not UserInteraction.objects.exclude(user__in=users).exists()
    assert not WalletTransaction.objects.exclude(user__in=users).exists()
