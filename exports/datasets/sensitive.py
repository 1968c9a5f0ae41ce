"""The deny-list of secret fields: names that no export may carry, whatever asks for them.

A name is cut into words on `_`, on camelCase and acronyms (`apiKey`, `HMACKey` -> api | key,
hmac | key) and on digits, which are dropped (`password1` -> password). It is secret when

- a word is a secret word or its plural (`password`, `tokens`, `jwt`, `otp`, `salt`);
- a word holds a secret word glued to others. A word no ordinary word contains counts
  anywhere (`userpassword`, `dbpwd`, `privatekey`, `recoverycodes`); `token`, `secret`,
  `signature` and `otp` only at the word's end, maybe before a TAIL (`apitoken`,
  `clientsecret`, `tokenhash`), because `tokenizer`, `secretary` and `footprint` are ordinary;
- two neighbouring words are a secret pair (`private key`, `hmac key`, `recovery codes`);
- the last word ends with `hash` (`password_hash`, `pwhash`), or the whole name is `key`
  (Django REST framework's authtoken keeps its token there).

So `key` needs a qualifier (`monkey`, `keyword`, `keys_count`, `primary_key` are ordinary),
and `salt` and `auth` count only as words of their own (`basalt`, `author`). A name a rule
matches that holds no secret (`token_count`) is kept by EXPORTS_NOT_SECRET_NAMES, compared
word for word with the whole name (`tokenCount` is `token_count`; `user_token` is not).
"""

import re
from functools import lru_cache

from exports.conf import app_settings

# Any name with one of these words, or its plural, is secret.
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "secret",
        "token",
        "apikey",
        "jwt",
        "otp",
        "totp",
        "hotp",
        "salt",
        "signature",
        "credential",
    }
)
# ... and so is one with two neighbouring words that make one of these pairs (plural second
# words too: `api_keys`, `recovery_codes`).
SECRET_PAIRS = frozenset(
    {
        ("access", "key"),
        ("api", "key"),
        ("auth", "key"),
        ("backup", "code"),
        ("encryption", "key"),
        ("hmac", "key"),
        ("master", "key"),
        ("private", "key"),
        ("recovery", "code"),
        ("secret", "key"),
        ("session", "data"),
        ("session", "key"),
        ("signing", "key"),
    }
)
# Glued inside a longer word, these count wherever they are: no ordinary word holds one.
SECRET_STEMS = ("password", "passwd", "passphrase", "pwd", "jwt", "credential") + tuple(
    sorted(first + second for first, second in SECRET_PAIRS)
)
# These count at the end of a longer word, maybe followed by a tail, never at its start.
SECRET_ENDING = re.compile(r"(token|secret|signature|otp)s?(hash|digest|key|value|id|data|seed)?$")
SECRET_NAMES = frozenset({"key"})
LAST_WORD_ENDING = "hash"

# Word boundaries a name does not spell with `_`: apiKey, HMACKey.
CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
LETTERS = re.compile(r"[^\W\d_]+")


def words(name: str) -> list[str]:
    """Lowercase words of a name; digits and underscores only separate them."""
    return LETTERS.findall(CAMEL.sub("_", name).lower())


def is_sensitive_name(name: str) -> bool:
    """One field name (no `__`): secret by a rule above, unless the allow-list names it."""
    parts = words(name)
    whole = "_".join(parts)
    if not parts or whole in not_secret_names():
        return False
    if whole in SECRET_NAMES or parts[-1].endswith(LAST_WORD_ENDING):
        return True
    return any(map(is_secret_word, parts)) or any(
        is_secret_pair(first, second) for first, second in zip(parts, parts[1:], strict=False)
    )


def is_sensitive_path(path: str) -> bool:
    """An ORM path (`user__password`) is secret when any field along it is."""
    return any(is_sensitive_name(name) for name in path.split("__"))


def is_secret_word(word: str) -> bool:
    if singular(word) in SECRET_WORDS or SECRET_ENDING.search(word):
        return True
    return any(stem in word for stem in SECRET_STEMS)


def is_secret_pair(first: str, second: str) -> bool:
    return (first, singular(second)) in SECRET_PAIRS


def singular(word: str) -> str:
    """Enough for the words above: `tokens`, `keys`, `codes`."""
    return word[:-1] if word.endswith("s") else word


def not_secret_names() -> frozenset[str]:
    """EXPORTS_NOT_SECRET_NAMES (a list, or a comma-separated string), each as its words."""
    value = app_settings.NOT_SECRET_NAMES
    names = value.split(",") if isinstance(value, str) else value
    return normalised(tuple(names))


@lru_cache(maxsize=8)
def normalised(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset("_".join(words(name)) for name in names) - {""}
