from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    """Django's argon2id hasher with mobproc's parameters (OWASP's minimum)."""

    time_cost = 2
    memory_cost = 19456
    parallelism = 1
