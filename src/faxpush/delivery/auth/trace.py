"""What the auth middleware of one push did, for the attempt record."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class AuthTrace:
    """Steps taken (``"digest challenge"``, ``"oauth2 token cached"`` …), the phase the
    push is in (``"token"`` while an OAuth2 token is obtained) and, when the receiver
    rejected the credentials, why."""

    steps: list[str] = field(default_factory=list)
    phase: str = "request"
    rejection: str | None = None
    rejection_class: str = "auth"

    def step(self, name: str) -> None:
        """Record one authentication step."""
        self.steps.append(name)

    def reject(self, message: str, *, error_class: str = "auth") -> None:
        """Record that authentication failed although the receiver answered."""
        self.rejection = message
        self.rejection_class = error_class
