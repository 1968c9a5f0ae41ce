"""The demo domain of seed 000: games with tasks, and what users do in them."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Game(models.Model):
    name = models.CharField(max_length=200)
    created = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="tasks")
    name = models.CharField(max_length=200)
    created = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.name


class UserPoint(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    game = models.ForeignKey(Game, on_delete=models.CASCADE)
    task = models.ForeignKey(Task, on_delete=models.CASCADE)
    points = models.IntegerField()
    created = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "user point"

    def __str__(self) -> str:
        return f"{self.points} points"


class UserInteraction(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    action = models.CharField(max_length=100)
    data = models.JSONField(default=dict)
    created = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.action


class WalletTransaction(models.Model):
    class Kind(models.TextChoices):
        DEPOSIT = "deposit"
        WITHDRAWAL = "withdrawal"
        REWARD = "reward"
        PURCHASE = "purchase"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    note = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


class Voucher(models.Model):
    """A UUID primary key: the changelist export must carry such ids through JSON."""

    code = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    label = models.CharField(max_length=100)
    value = models.DecimalField(max_digits=8, decimal_places=2)
    created = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.label
