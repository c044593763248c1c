"""Opening /ws/chat/ as a browser page would, for the chat and widget tests."""

from __future__ import annotations

from channels.testing import WebsocketCommunicator

from config.asgi import application

SITE = "http://127.0.0.1:8000"
PIPELINE_SECONDS = 30  # the first retrieval in a process loads the embedding model


async def open_socket(origin: str = SITE) -> tuple[WebsocketCommunicator, bool]:
    socket = WebsocketCommunicator(application, "/ws/chat/", headers=[(b"origin", origin.encode())])
    connected, _ = await socket.connect()
    return socket, connected


async def hello(**fields) -> tuple[WebsocketCommunicator, dict]:
    """A connected socket that has said hello, and the session frame it got back."""
    socket, connected = await open_socket()
    assert connected
    await socket.send_json_to({"type": "hello", **fields})
    frame = await socket.receive_json_from()
    assert frame["type"] == "session", frame
    return socket, frame


async def frames_until(socket: WebsocketCommunicator, *kinds: str, timeout: float = PIPELINE_SECONDS) -> list[dict]:
    """Frames received up to and including the first one of these types."""
    frames: list[dict] = []
    while not frames or frames[-1]["type"] not in kinds:
        frames.append(await socket.receive_json_from(timeout=timeout))
    return frames
