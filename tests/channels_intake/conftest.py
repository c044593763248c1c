"""Fixtures shared by the chat socket tests."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.db import connections

from tests.conftest import make_order
from tickets import services as ticket_services


@pytest.fixture
async def close_consumer_connections():
    """Consumers reach the database from asgiref's worker thread, whose persistent connection
    would otherwise outlive the test and block dropping the test database."""
    yield
    await database_sync_to_async(connections.close_all)()


@pytest.fixture
def no_pipeline(monkeypatch):
    """Customer messages are stored but nobody answers: replies come only from the test."""
    monkeypatch.setattr(ticket_services, "pipeline_enqueue", lambda **kw: None)


@pytest.fixture
def paid_order(customer):
    return make_order(customer, "N-1042", status="paid", total="34.99")
