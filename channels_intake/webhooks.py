"""Provider webhooks for SMS (Twilio) and social DMs (Meta). Thin: verify the signature, hand
the payload to the channel's service, answer at once (the pipeline runs after commit, queued).
Email webhooks are anymail's own views (/anymail/<esp>/inbound/), received in channels_intake.email."""

from __future__ import annotations

import json
import logging

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from channels_intake.meta import meta_messages, meta_signature_valid, meta_verify, social_receive
from channels_intake.sms import sms_receive, twilio_request_valid

log = logging.getLogger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@csrf_exempt
@require_POST
def twilio_sms(request: HttpRequest) -> HttpResponse:
    params = [(name, value) for name, values in request.POST.lists() for value in values]
    signature = request.headers.get("X-Twilio-Signature", "")
    if not twilio_request_valid(
        url=request.build_absolute_uri(), params=params, signature=signature
    ):
        log.warning("refused a Twilio webhook with a missing or wrong signature")
        return HttpResponseForbidden("invalid signature")
    sms_receive(params=request.POST.dict())
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def meta_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        if meta_verify(
            mode=request.GET.get("hub.mode", ""), token=request.GET.get("hub.verify_token", "")
        ):
            return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
        return HttpResponseForbidden("verification failed")
    if not meta_signature_valid(
        body=request.body, header=request.headers.get("X-Hub-Signature-256", "")
    ):
        log.warning("refused a Meta webhook with a missing or wrong signature")
        return HttpResponseForbidden("invalid signature")
    try:
        payload = json.loads(request.body)
    except ValueError:
        return HttpResponse("malformed JSON", status=400)
    for message in meta_messages(payload if isinstance(payload, dict) else {}):
        social_receive(message=message)
    return HttpResponse("EVENT_RECEIVED", content_type="text/plain")
