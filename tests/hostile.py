"""A seeded generator of hostile input for property-style tests: numbers past every range,
floats JSON has no word for, digits of other scripts, UTC offsets no zone has, days at the ends
of the calendar, text with NUL and lone surrogates, very long text, wrong types, and nesting
far deeper than any real filter. Each value comes out as the JSON text a caller would send."""

import base64
import json
import random
import uuid
from typing import Any

NON_ASCII_DIGITS = ["²", "١٢", "１２", "१२", "߁", "𝟙", "٣٠", "①", "Ⅻ", "໒"]
# What a careful caller sends, so that some of each case gets through to the database.
PLAIN = [0, 5, 12.5, -3, "abc", "credit", "2026-06-09", "2026-06-09T10:00:00+02:00", "7", True]
NUMBERS = [
    "1e400",
    "-1e400",
    "1e-400",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e308",
    "5e-324",
    "-0.0",
    "0.1",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "1" + "0" * 30,
    "1" + "0" * 4400,  # past Python's 4,300-digit limit for int()
    "2147483648",
    "1e20",
]


class Raw(str):
    """JSON text to write as it is (json.dumps cannot say 1e400, nor nest 3,000 deep)."""


def to_json(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(to_json(v) for v in value) + "]"
    return json.dumps(value)


class Hostile:
    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def pick(self, options: list[Any]) -> Any:
        return self.random.choice(options)

    def offset(self) -> str:
        hours, minutes = self.random.randint(0, 23), self.pick([0, 30, 45, 59])
        text = f"{self.pick('+-')}{hours:02}:{minutes:02}"
        return self.pick([text, text + ":59", text.replace(":", ""), "Z", "+14:00", "-14:00"])

    def date_time(self) -> str:
        day = self.pick(["2026-06-09", "0001-01-01", "9999-12-31", "1000-01-01", "9998-12-31"])
        clock = self.pick(["00:00:00", "23:59:59.999999", "12:00", "24:00:00", "00:00:60"])
        return f"{day}{self.pick('T ')}{clock}{self.offset()}"

    def day(self) -> str:
        return self.pick(
            [
                "9999-12-31",
                "0001-01-01",
                "0000-01-01",
                "2026-02-30",
                "9998-12-31",
                "999-01-01",
                "20260609",
                "2026-W24-2",
                "+12026-01-01",
                "٢٠٢٦-٠٦-٠٩",
                "2026-06-09T00:00:00+23:59",
                self.text(),
            ]
        )

    def digits(self) -> str:
        return self.pick(
            [
                self.pick(NON_ASCII_DIGITS),
                "9" * self.random.randint(19, 60),
                "1_000",
                " 10 ",
                "+5",
                "-1",
                "0",
                "10.0",
                "1e3",
                "0x10",
                str(self.random.randint(1, 10)),
            ]
        )

    def text(self) -> str:
        length = self.pick([0, 1, 300, 2000])
        return self.pick(
            [
                "a\x00b",
                "\ud800",
                "x" * length,
                "%_%" * (length // 3),
                "é" * length,
                "'; DROP TABLE demo_userpoint; --",
                "\\" * 7,
                "\r\n\t",
                "🙂" * 10,
            ]
        )

    def weighted(self, **weights: int) -> str:
        return self.random.choices(list(weights), list(weights.values()))[0]

    def scalar(self) -> Any:
        kind = self.weighted(plain=8, number=2, digits=1, date_time=2, day=1, text=2, other=1)
        if kind == "plain":
            return self.pick(PLAIN)
        if kind == "number":
            return Raw(self.pick(NUMBERS))
        if kind == "other":
            return self.pick([True, False, None, {}, [], {"a": 1}, 3, -7, 1.5])
        return getattr(self, kind)()

    def value(self, depth: int = 0) -> Any:
        kind = self.weighted(scalar=12, list=2, operator=5, deep=1) if depth < 3 else "scalar"
        if kind == "scalar":
            return self.scalar()
        if kind == "list":
            return [self.value(depth + 1) for _ in range(self.random.randint(0, 4))]
        if kind == "deep":
            return self.deep()
        operator = self.pick(["eq", "gt", "ge", "lt", "le", "in", "not", "like", "like", "regex"])
        return {operator: self.value(depth + 1)}

    def deep(self) -> Raw:
        depth = self.pick([18, 19, 20, 21, 100, 999, 3000])
        opening, closing = self.pick([('{"not": ', "}"), ("[", "]"), ('{"in": [', "]}")])
        return Raw(opening * depth + "1" + closing * depth)

    def conditions(self, fields: list[str]) -> Any:
        """An object (AND), a list of them (OR), or something else entirely."""
        names = [*fields] * 6 + ["user__password", "", "pk"]

        def branch() -> dict[str, Any]:
            return {self.pick(names): self.value() for _ in range(self.pick([1, 1, 1, 2]))}

        kind = self.weighted(object=6, list=3, wrong=1)
        if kind == "object":
            return branch()
        if kind == "list":
            return [branch() for _ in range(self.pick([0, 1, 2, 2, 3]))]
        return self.scalar()

    def shortcuts(self) -> dict[str, Any]:
        """None or one of the API's from/to/game/task, careful or not."""
        chosen = self.random.sample(["from", "to", "game", "task"], self.pick([0, 0, 1]))
        return {name: self.shortcut(name) for name in chosen}

    def shortcut(self, name: str) -> Any:
        if self.random.random() < 0.5:
            return "2026-06-09" if name in ("from", "to") else "3"
        return self.pick([self.scalar(), self.day(), self.digits()])

    def limit(self) -> Any:
        return self.pick([None, None, "10", 1000, self.digits(), self.scalar()])

    def cursor(self) -> str:
        text = f"{self.pick([self.date_time(), self.day(), self.text()])}|{uuid.uuid4()}"
        encoded = base64.urlsafe_b64encode(text.encode("utf-8", "surrogatepass")).decode()
        return self.pick([encoded.rstrip("="), encoded, "%%%", "é", self.text()[:50]])
