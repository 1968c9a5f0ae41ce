"""The deny-list catches secret words glued into compounds (`apitoken`, `privatekey`), with
trailing digits (`password1`) and in any case style; ordinary names that merely contain a
secret-looking string (`monkey`, `secretary`, `tokenizer`) stay ordinary by the rules, and the
few that a rule does match but that hold no secret (`token_count`) are kept by an allow-list,
EXPORTS_NOT_SECRET_NAMES, that a host may extend or replace."""

import random

import pytest
from django.apps import apps
from django.contrib.auth.models import User

from exports.conf import DEFAULTS
from exports.datasets.changelist import default_columns
from exports.datasets.sensitive import is_sensitive_name, is_sensitive_path

# Issue 20, finding 8: each of these passed as not secret.
FROM_THE_ISSUE = [
    "password1",
    "apitoken",
    "authtoken",
    "accesstoken",
    "refreshtoken",
    "privatekey",
    "secretkey",
    "sessionkey",
    "jwt",
    "hmac_key",
    "recovery_codes",
]
# The same family in other spellings, and the other compounds the rule promises.
ALSO_SECRET = [
    "Password2",
    "password_2",
    "PASSWORD_1",
    "passwords",
    "userpassword",
    "dbPwd",
    "apiToken",
    "AccessToken",
    "REFRESH_TOKEN",
    "APIToken",
    "oauth2_token",
    "clientsecret",
    "JWTSecret",
    "userJWT",
    "jwt_token",
    "tokenhash",
    "secretValue",
    "PRIVATE_KEY",
    "PrivateKey",
    "private_keys",
    "HMACKey",
    "hmackey",
    "signingKey",
    "apikeys",
    "master_key",
    "recoveryCodes",
    "backup_codes",
    "backupCode2",
    "mfaotp",
    "smsOtp",
    "session_key1",
    "sessiondata",
    "pwhash",
    "key1",
    "Key",
    "hmacsignature",
    "user__apitoken",
    "owner__profile__privateKey",
]
# Ordinary names, and why (see the module docstring of exports.datasets.sensitive):
ORDINARY = [
    # ... `key` is secret only as the whole name or after a qualifier (`private key`),
    "keys_count",
    "key_count",
    "keyword",
    "keywords",
    "keyboard",
    "keynote",
    "monkey",
    "turkey",
    "donkey",
    "hockey_team",
    "primary_key",
    "public_key",
    "sort_key",
    "idempotency_key",
    # ... `token` and `secret` count inside a word only at its end,
    "tokenizer",
    "tokenized_text",
    "secretary",
    "secretariat",
    # ... `hash` only at the end of the last word,
    "hashtag",
    "hashtags",
    "hash_tag",
    # ... short words (`otp`, `salt`, `auth`, `pass`) only as words of their own,
    "footprint",
    "hotpot",
    "basalt",
    "author",
    "authority",
    "auth_method",
    "passenger",
    "passport",
    "bypass",
    "capital",
    # ... and qualifiers without their secret word.
    "access_count",
    "private_note",
    "session_id",
    "recovery_email",
    "backup_date",
    "designation",
]
# Ordinary only because EXPORTS_NOT_SECRET_NAMES lists them (a rule matches the word `token`).
ALLOW_LISTED = ["token_count", "tokenCount", "TOKEN_COUNT", "max_tokens", "total_tokens"]


@pytest.mark.parametrize("name", FROM_THE_ISSUE)
def test_each_name_the_issue_found_is_secret(name):
    assert is_sensitive_path(name)


@pytest.mark.parametrize("name", ALSO_SECRET)
def test_compounds_digits_and_case_styles_are_secret(name):
    assert is_sensitive_path(name)


@pytest.mark.parametrize("name", ORDINARY)
def test_an_ordinary_name_stays_ordinary(name):
    assert not is_sensitive_path(name)


@pytest.mark.parametrize("name", ALLOW_LISTED)
def test_token_counts_are_ordinary_through_the_allow_list(name, settings):
    assert not is_sensitive_name(name)
    settings.EXPORTS_NOT_SECRET_NAMES = ()
    assert is_sensitive_name(name)


def test_the_allow_list_names_whole_names_only():
    for name in ("token", "password_token_count", "token_count_hash", "user_token"):
        assert is_sensitive_name(name), name


def test_a_host_extends_the_allow_list_in_any_spelling(settings):
    assert is_sensitive_name("token_type")
    settings.EXPORTS_NOT_SECRET_NAMES = (*DEFAULTS["NOT_SECRET_NAMES"], "tokenType")
    assert not is_sensitive_name("token_type") and not is_sensitive_name("TokenType")
    assert not is_sensitive_name("token_count")
    assert is_sensitive_name("token") and is_sensitive_name("private_key")


def test_a_host_replaces_the_allow_list_with_a_comma_separated_string(settings):
    settings.EXPORTS_NOT_SECRET_NAMES = "token_type, prompt_tokens"  # noqa: S105 - names
    assert not is_sensitive_name("token_type") and not is_sensitive_name("promptTokens")
    assert is_sensitive_name("token_count")


# The property test: secret cores, glued or joined to ordinary words and digits, in four case
# styles. How a core may be joined follows the rule: "anywhere" cores may have anything glued
# on either side; "ending" cores anything glued before and only a tail glued after; "pairs"
# are two words that stay words of their own; "whole" words are never glued.
ANYWHERE = ["password", "passwd", "passphrase", "pwd", "jwt", "credential", "apikey"]
ANYWHERE += ["privatekey", "secretkey", "sessionkey", "accesskey", "authkey", "hmackey"]
ANYWHERE += ["signingkey", "encryptionkey", "masterkey", "sessiondata", "recoverycodes"]
ANYWHERE += ["backupcode"]
ENDING = ["token", "tokens", "secret", "secrets", "signature", "otp", "apitoken", "authtoken"]
ENDING += ["accesstoken", "refreshtoken", "clientsecret"]
TAILS = ["hash", "digest", "key", "value", "id", "data", "seed"]
PAIRS = [("private", "key"), ("hmac", "key"), ("recovery", "codes"), ("api", "keys")]
PAIRS += [("session", "key"), ("signing", "key"), ("backup", "code"), ("access", "key")]
WHOLE = ["salt", "totp", "hotp", "otp", "passwords", "secret", "token"]
# Neighbours: ordinary words that, alone or glued to another, name nothing secret.
WORDS = ["user", "old", "new", "my", "db", "main", "raw", "temp", "primary", "x", "value"]
WORDS += ["encrypted", "stored", "last", "reset", "customer", "legacy", "qz", "field"]


def glued(rng: random.Random, core: str, before: bool, after: list[str]) -> list[str]:
    """The words of one generated name; a `+` prefix glues a word to the one before it."""
    parts = [core]
    if before and rng.random() < 0.5:
        parts = ["+" + core]
        parts.insert(0, rng.choice(WORDS))
    if after and rng.random() < 0.5:
        parts.append("+" + rng.choice(after))
    return parts


def secret_parts(rng: random.Random) -> list[str]:
    """A core with what the rule lets touch it, between optional separate words and digits."""
    kind = rng.choice(["anywhere", "ending", "pair", "whole"])
    if kind == "anywhere":
        parts = glued(rng, rng.choice(ANYWHERE), True, WORDS)
    elif kind == "ending":
        parts = glued(rng, rng.choice(ENDING), True, TAILS)
    elif kind == "pair":
        parts = list(rng.choice(PAIRS))
    else:
        parts = [rng.choice(WHOLE)]
    before = [rng.choice(WORDS) for _ in range(rng.randint(0, 2))]
    after = [rng.choice(WORDS) for _ in range(rng.randint(0, 2))]
    digits = [str(rng.randint(0, 999))] if rng.random() < 0.4 else []
    return before + parts + after + digits


def render(parts: list[str], style: str) -> str:
    """snake_case, UPPER_SNAKE, camelCase or PascalCase; glued words get no boundary."""
    out = ""
    for i, part in enumerate(parts):
        glue, word = part.startswith("+"), part.lstrip("+")
        if style in ("snake", "upper"):
            out += ("" if glue or i == 0 else "_") + word
        else:
            first = i == 0 and style == "camel"
            out += word if glue or first else word.capitalize()
    return out.upper() if style == "upper" else out


def generated(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    styles = ["snake", "upper", "camel", "pascal"]
    return [render(secret_parts(rng), rng.choice(styles)) for _ in range(count)]


def test_generated_secret_names_are_all_secret():
    names = generated(seed=20, count=3000)
    assert len(set(names)) > 1500
    missed = sorted({n for n in names if not is_sensitive_name(n)})
    assert missed == []


ORDINARY_WORDS = ["author", "capital", "keyword", "passenger", "monkey", "turkey", "hashtag"]
ORDINARY_WORDS += ["secretary", "tokenizer", "keys", "count", "name", "created", "title"]
ORDINARY_WORDS += ["amount", "note", "primary", "public", "sort", "cache", "footprint", "basalt"]


def test_generated_ordinary_names_stay_ordinary():
    rng = random.Random(8)
    names = set()
    for _ in range(2000):
        parts = [rng.choice(ORDINARY_WORDS) for _ in range(rng.randint(2, 4))]
        parts = [p if i == 0 or rng.random() < 0.5 else "+" + p for i, p in enumerate(parts)]
        names.add(render(parts, rng.choice(["snake", "upper", "camel", "pascal"])))
    assert sorted(n for n in names if is_sensitive_name(n)) == []


def test_the_demo_and_user_models_lose_only_the_password_column():
    """Default columns of every demo model keep every field; auth.User loses `password`."""
    for model in apps.get_app_config("demo").get_models():
        fields = [f.attname for f in model._meta.concrete_fields]
        assert [c.name for c in default_columns(model)] == fields, model
    left_out = {f.attname for f in User._meta.concrete_fields} - {
        c.name for c in default_columns(User)
    }
    assert left_out == {"password"}
