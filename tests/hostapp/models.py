import uuid

from django.conf import settings
from django.db import models

TIERS = [("gold", "Gold"), ("silver", "Silver"), ("bronze", "Bronze")]
STAGES = [("new", "New"), ("won", "Won"), ("lost", "Lost")]


class Region(models.Model):
    code = models.CharField(primary_key=True, max_length=8)
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Company(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=80)
    region = models.ForeignKey(Region, on_delete=models.PROTECT)
    department = models.IntegerField()
    active = models.BooleanField(default=True)
    tier = models.CharField(max_length=10, choices=TIERS)
    founded = models.DateField()

    class Meta:
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name


class Deal(models.Model):
    title = models.CharField(max_length=80)
    company = models.ForeignKey(Company, on_delete=models.CASCADE)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    stage = models.CharField(max_length=10, choices=STAGES)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    closed = models.DateField()
    department = models.IntegerField()
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.title
