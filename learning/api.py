"""The metrics endpoint: outcomes, stage latencies and knowledge gaps, for dashboards."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from learning.selectors import metrics_summary


class OutcomesSerializer(serializers.Serializer):
    decided = serializers.IntegerField(
        help_text="tickets that reached an outcome; the rates' denominator"
    )
    answered = serializers.IntegerField()
    action = serializers.IntegerField()
    escalated = serializers.IntegerField()
    answered_rate = serializers.FloatField(allow_null=True)
    action_rate = serializers.FloatField(allow_null=True)
    escalated_rate = serializers.FloatField(allow_null=True)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()
    count = serializers.IntegerField()


class LatencySerializer(serializers.Serializer):
    count = serializers.IntegerField()
    p50 = serializers.FloatField()
    p95 = serializers.FloatField()


class IntakeChannelSerializer(serializers.Serializer):
    received = serializers.IntegerField(help_text="distinct provider deliveries (retries not counted)")
    tickets_created = serializers.IntegerField()
    followups = serializers.IntegerField()
    ignored = serializers.IntegerField()
    failed = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="provider retries recognised and dropped")
    ignored_by_reason = serializers.DictField(child=serializers.IntegerField())


class MetricsSerializer(serializers.Serializer):
    tickets = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    by_intent = serializers.DictField(child=serializers.IntegerField())
    by_channel = serializers.DictField(child=serializers.IntegerField())
    outcomes = OutcomesSerializer()
    escalation_reasons = ReasonSerializer(many=True, help_text="the ten most frequent")
    latency_ms = serializers.DictField(child=LatencySerializer(), help_text="per pipeline stage")
    knowledge_gaps = serializers.IntegerField(help_text="questions no article could answer")
    intake = serializers.DictField(child=IntakeChannelSerializer(), help_text="per provider channel (email, sms, social)")


class MetricsApi(APIView):
    @extend_schema(responses=MetricsSerializer)
    def get(self, request: Request) -> Response:
        return Response(MetricsSerializer(metrics_summary()).data)
