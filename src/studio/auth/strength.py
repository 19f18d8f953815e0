"""How guessable a new password is, by zxcvbn (Dropbox's estimator, the Python port):
it knows the passwords most often leaked and chosen, keyboard walks, repeats, dates,
l33t substitutions and the person's own email or name, which a length rule alone does
not. A password must score at least MIN_SCORE of 4 ("safely unguessable: moderate
protection from an offline attack" and up) to be set; the refusal says why in
zxcvbn's words. docs/decisions/0010-password-strength.md has the trade-offs."""

from __future__ import annotations

from collections.abc import Iterable

from zxcvbn import zxcvbn

from studio.auth.schemas import PASSWORD_MAX
from studio.http.errors import ApiError

MIN_SCORE = 3


def check_new_password(password: str, *, personal: Iterable[str | None] = ()) -> None:
    """422 weak_password unless `password` is hard enough to guess; `personal`: what an
    attacker knows of its owner (email, name), which must not make the password."""
    if not password.strip():
        raise ApiError(422, "weak_password", "a password cannot be only spaces")
    inputs = [part for value in personal if value for part in (value, *value.replace("@", " ").split())]
    result = zxcvbn(password, user_inputs=inputs, max_length=PASSWORD_MAX)
    if result["score"] >= MIN_SCORE:
        return
    feedback = result["feedback"]
    why = " ".join(filter(None, [feedback.get("warning"), *feedback.get("suggestions", [])]))
    raise ApiError(422, "weak_password", "this password is too easy to guess" + (f": {why}" if why else
                   "; a few unrelated words make a strong one"))
