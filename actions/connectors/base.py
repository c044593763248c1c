"""Backend connectors: how an action reaches the store. Selected by settings.STORE_BACKEND."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string


class BackendError(Exception):
    """The backend refused or failed; the ticket escalates with this message."""


class StoreBackend:
    def cancel_order(self, *, order_number: str, allowed_states: list[str]) -> dict:
        raise NotImplementedError


@lru_cache(maxsize=4)
def _load(path: str) -> StoreBackend:
    return import_string(path)()


def store() -> StoreBackend:
    return _load(settings.STORE_BACKEND)


class StoreBackendActions(StoreBackend):
    """The full set of operations the built-in handlers need from a store."""

    def refund(self, *, order_number: str, amount: str) -> dict:
        raise NotImplementedError

    def change_address(self, *, order_number: str, address: str, allowed_states: list[str]) -> dict:
        raise NotImplementedError

    def send_password_reset(self, *, email: str) -> dict:
        raise NotImplementedError

    def create_return_label(self, *, order_number: str) -> dict:
        raise NotImplementedError

    def change_plan(self, *, customer_id: int, plan: str) -> dict:
        raise NotImplementedError
