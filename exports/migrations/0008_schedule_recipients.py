# Issue 20, finding 4: an owner addresses members of their own groups, unless they hold this.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("exports", "0007_scheduling"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="exportschedule",
            options={
                "ordering": ["next_run_at"],
                "permissions": [("send_to_anyone", "Can send scheduled exports to anyone")],
            },
        ),
    ]
