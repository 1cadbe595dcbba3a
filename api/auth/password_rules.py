"""What a new password must be (NIST SP 800-63B, OWASP ASVS V2.1): at least 12
characters, at most MAX_PASSWORD_CHARS, not one of the 10,000 most common passwords
(common-passwords.txt says where the list comes from), not the user's name, and not a
run or a repetition of a few characters (`aaaaaaaaaaaa`, `abcabcabcabc`, `123456789012`)."""

from __future__ import annotations

import string
from functools import cache
from importlib import resources
from itertools import pairwise

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024  # argon2 takes any length; this bounds the work per attempt
COMMON_PASSWORDS_FILE = "common-passwords.txt"


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased (read once per process)."""
    text = resources.files("api.auth").joinpath(COMMON_PASSWORDS_FILE).read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line and not line.startswith("#")
    )


def _repeats_a_short_unit(text: str) -> bool:
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return True
    return False


def _step(a: str, b: str) -> int:
    # ASCII digits only: str.isdigit() is also true of '¹', which int() refuses.
    if a in string.digits and b in string.digits:  # digits go round: ...8, 9, 0, 1...
        return {0: 0, 1: 1, 9: -1}.get((int(b) - int(a)) % 10, 10)
    return ord(b) - ord(a)


def _is_a_run(text: str) -> bool:
    steps = {_step(a, b) for a, b in pairwise(text)}
    return len(steps) == 1 and steps <= {-1, 0, 1}


def password_problem(password: str, username: str | None = None) -> str | None:
    """What is wrong with `password` as a new password, or None."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"use at least {MIN_PASSWORD_CHARS} characters"
    if len(password) > MAX_PASSWORD_CHARS:
        return f"use at most {MAX_PASSWORD_CHARS} characters"
    lowered = password.lower()
    if username is not None and len(username) >= 4 and username.lower() in lowered:
        return "do not use your user name in the password"
    if _repeats_a_short_unit(lowered) or _is_a_run(lowered):
        return "do not repeat a few characters or use a run like 123456789012"
    if lowered in common_passwords():
        return "this is one of the most common passwords; choose another"
    return None


def check_password_rules(password: str, username: str | None = None) -> None:
    """ValueError saying what is wrong with a new password."""
    problem = password_problem(password, username)
    if problem is not None:
        raise ValueError(problem)
