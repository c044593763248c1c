"""The product's settings plus the bench's floor routes; the bench's servers run on these."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "learning.bench.urls"
ASGI_APPLICATION = "learning.bench.asgi.application"
