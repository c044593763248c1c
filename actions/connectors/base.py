"""Backend connectors: how an action reaches the store. Selected by settings.STORE_BACKEND."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string


class BackendError(Exception):
    """The backend refused or failed; the ticket escalates with this message."""


class StoreBackend(ABC):
    """What the built-in action handlers need from a store. Each returns a result dict for the
    audit log, or raises BackendError when the store refuses."""

    @abstractmethod
    def cancel_order(self, *, order_number: str, allowed_states: list[str]) -> dict:
        """Cancel the order only if its status is still one of allowed_states."""

    @abstractmethod
    def refund(self, *, order_number: str, amount: str) -> dict:
        """Refund amount (at most the order total) of a delivered order."""

    @abstractmethod
    def change_address(self, *, order_number: str, address: str, allowed_states: list[str]) -> dict:
        """Change the shipping address only while the status is one of allowed_states."""

    @abstractmethod
    def send_password_reset(self, *, email: str) -> dict:
        """Send a reset link to the email on file."""

    @abstractmethod
    def create_return_label(self, *, order_number: str) -> dict:
        """Create a prepaid return label; the result carries its reference and URL."""

    @abstractmethod
    def change_plan(self, *, customer_id: int, plan: str) -> dict:
        """Move the customer to another plan."""


@lru_cache(maxsize=4)
def _load(path: str) -> StoreBackend:
    return import_string(path)()


def store() -> StoreBackend:
    return _load(settings.STORE_BACKEND)
