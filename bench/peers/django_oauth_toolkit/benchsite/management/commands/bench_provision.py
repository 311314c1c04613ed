from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from oauth2_provider.models import Application


class Command(BaseCommand):
    help = "Create the benchmark's clients and users."

    def add_arguments(self, parser):
        parser.add_argument("--client-id", required=True)
        parser.add_argument("--client-secret", required=True)
        parser.add_argument("--users", type=int, default=1)
        parser.add_argument("--username-prefix", default="user")
        parser.add_argument("--password", required=True)
        parser.add_argument("--no-hash-client-secret", action="store_true")

    def handle(self, *args, **o):
        # A DOT Application has exactly one grant type: "password" also allows
        # refresh_token, client_credentials needs an application of its own.
        for suffix, grant in (("", Application.GRANT_PASSWORD),
                              ("-cc", Application.GRANT_CLIENT_CREDENTIALS)):
            Application.objects.create(
                name="bench" + suffix, client_id=o["client_id"] + suffix,
                client_secret=o["client_secret"], client_type=Application.CLIENT_CONFIDENTIAL,
                authorization_grant_type=grant,
                hash_client_secret=not o["no_hash_client_secret"])
        User = get_user_model()
        for i in range(o["users"]):
            User.objects.create_user(f"{o['username_prefix']}{i}", password=o["password"])
