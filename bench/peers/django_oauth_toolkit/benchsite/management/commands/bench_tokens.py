import hashlib
import secrets
import sqlite3
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, RefreshToken


def _checksummed(n):
    for _ in range(n):
        t = secrets.token_urlsafe(22)
        yield t, hashlib.sha256(t.encode()).hexdigest()


class Command(BaseCommand):
    help = "Bulk-insert live access+refresh token pairs (growth case) with plain SQL, for speed."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True)

    def handle(self, *args, count, **o):
        app = Application.objects.filter(authorization_grant_type=Application.GRANT_PASSWORD).first()
        user = get_user_model().objects.first()
        # Django keeps datetimes in SQLite as naive UTC text.
        now = timezone.now().replace(tzinfo=None)
        expires, now = str(now + timedelta(days=1)), str(now)
        at, rt = AccessToken._meta.db_table, RefreshToken._meta.db_table
        con = sqlite3.connect(settings.DATABASES["default"]["NAME"])
        with con:
            start = con.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {at}").fetchone()[0]
            con.executemany(
                f"INSERT INTO {at} (id, token, token_checksum, expires, scope, created, updated,"
                " application_id, user_id, resource) VALUES (?,?,?,?,?,?,?,?,?,'[]')",
                ((start + i, t, c, expires, "MOBPROC", now, now, app.id, user.id)
                 for i, (t, c) in enumerate(_checksummed(count))))
            con.executemany(
                f"INSERT INTO {rt} (token, token_checksum, access_token_id, application_id, user_id,"
                " created, updated, resource) VALUES (?,?,?,?,?,?,?,'[]')",
                ((t, c, start + i, app.id, user.id, now, now)
                 for i, (t, c) in enumerate(_checksummed(count))))
        con.close()
