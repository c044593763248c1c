"""The chat page itself; the socket behind it is tested in test_chat.py."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_the_chat_page_links_its_script_and_the_consoles(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "frontline/chat.js" in html and 'href="/admin/"' in html and 'href="/api/docs/"' in html
