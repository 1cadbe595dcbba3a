"""What sign-in answers say, in the request's language (one language per answer)."""

from __future__ import annotations

from core.contacts import Language

_TEXTS = {
    "wrong_credentials": {
        Language.ZH: "用户名或密码不正确。",
        Language.EN: "wrong username or password",
    },
    "throttled": {
        Language.ZH: "登录失败次数过多，请 {seconds} 秒后再试。",
        Language.EN: "too many failed sign-ins; try again in {seconds} s",
    },
    "wrong_current_password": {
        Language.ZH: "当前密码不正确。",
        Language.EN: "the current password is wrong",
    },
}


def message(key: str, language: Language, **values: object) -> str:
    """The text `key` in `language`, with {placeholders} filled."""
    return _TEXTS[key][language].format(**values)
