"""The deny-list of secret fields: names that no export may carry, whatever asks for them.

A name is split into words on `_` and on camelCase (`user__api_key` -> user | api, key;
`apiKey` -> api, key), and it is secret when a word or a pair of neighbouring words says
so. Whole words only: `author`, `capital`, `keyword`, `passenger` are ordinary names.
"""

import re

# Any field name with one of these words is secret.
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "secret",
        "secrets",
        "token",
        "tokens",
        "apikey",
        "otp",
        "totp",
        "hotp",
        "salt",
        "signature",
        "credential",
        "credentials",
    }
)
# ... and so is one with these neighbouring words (`private_key`, `sessionKey`).
SECRET_PAIRS = frozenset(
    {
        ("api", "key"),
        ("access", "key"),
        ("auth", "key"),
        ("encryption", "key"),
        ("private", "key"),
        ("secret", "key"),
        ("session", "key"),
        ("session", "data"),
        ("signing", "key"),
    }
)
# A name that ends with one of these words (`password_hash`, `hash`), or is exactly one of
# these (`key`: Django REST framework's authtoken keeps its token there).
SECRET_LAST_WORDS = frozenset({"hash"})
SECRET_NAMES = frozenset({"key"})

CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def words(name: str) -> list[str]:
    return [w for w in CAMEL.sub("_", name).lower().split("_") if w]


def is_sensitive_name(name: str) -> bool:
    """One field name (no `__`)."""
    parts = words(name)
    if not parts:
        return False
    if "_".join(parts) in SECRET_NAMES or parts[-1] in SECRET_LAST_WORDS:
        return True
    return any(w in SECRET_WORDS for w in parts) or any(
        pair in SECRET_PAIRS for pair in zip(parts, parts[1:], strict=False)
    )


def is_sensitive_path(path: str) -> bool:
    """An ORM path (`user__password`) is secret when any field along it is."""
    return any(is_sensitive_name(name) for name in path.split("__"))
