"""The product's ASGI application with the echo floor beside it on /bench/echo/."""

from config.asgi import application as product_application
from learning.bench.floor import EchoConsumer  # after Django is set up

ECHO_PATH = "/bench/echo/"
echo_application = EchoConsumer.as_asgi()


async def application(scope, receive, send):
    if scope["type"] == "websocket" and scope["path"] == ECHO_PATH:
        return await echo_application(scope, receive, send)
    return await product_application(scope, receive, send)
