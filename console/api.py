"""REST endpoints of the kernel, for staff: the stored event log, and the
deliveries of events to policies with what an operator does to a dead
letter (retry it once its fault is fixed, or discard it), and how far
behind each policy is (lag)."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import permissions, serializers
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from interfaces.api_commands import validated
from interfaces.schema import errors
from interfaces.viewsets import ApiViewSet
from messaging.models import Delivery
from messaging.operations import dead_letters, log, metrics
from messaging.personal import opened_rows
from messaging.refusals import KernelRefusal


class EventFilter(serializers.Serializer):
    correlation_id = serializers.UUIDField(required=False)
    type = serializers.CharField(required=False, allow_blank=True, max_length=100)


class StoredEventOutput(serializers.Serializer):
    id = serializers.UUIDField(source="event_id")
    type = serializers.CharField()
    version = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    payload = serializers.JSONField()
    command_id = serializers.UUIDField()
    correlation_id = serializers.UUIDField()
    causation_id = serializers.UUIDField(allow_null=True)
    command_duration_ms = serializers.FloatField(
        allow_null=True, help_text="How long the command that stored it took (handler and store), in ms."
    )


class EventViewSet(ApiViewSet):
    """The event log, oldest first (staff only)."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(parameters=[EventFilter], responses={200: StoredEventOutput(many=True), **errors(400)})
    def list(self, request):
        """Stored events, optionally of one correlation id and one type."""
        query = validated(EventFilter, request.query_params)
        events = log.stored_events(correlation_id=query.get("correlation_id"), event_type=query.get("type"))
        page = opened_rows(self.paginate_queryset(events))
        return self.get_paginated_response(StoredEventOutput(page, many=True).data)


@extend_schema_field({"type": "string", "pattern": r"^\d{1,7}[smhd]$", "example": "30m"})
class AgeField(serializers.CharField):
    """An age such as ``45s``, ``30m``, ``2h`` or ``1d`` (``log.parse_age``,
    whose pattern bounds its length), as a ``timedelta``."""

    def to_internal_value(self, data):
        try:
            return log.parse_age(super().to_internal_value(data))
        except ValueError as invalid:
            raise serializers.ValidationError(str(invalid)) from None


class DeliveryFilter(serializers.Serializer):
    status = serializers.MultipleChoiceField(
        choices=Delivery.Status.choices, required=False, help_text="Only these statuses (repeat the parameter)."
    )
    policy = serializers.CharField(required=False, allow_blank=True, max_length=200)
    event_type = serializers.CharField(required=False, allow_blank=True, max_length=100)
    older_than = AgeField(required=False, help_text="Only deliveries opened longer ago: 45s, 30m, 2h, 1d.")
    correlation_id = serializers.UUIDField(required=False)


class DeliveryOutput(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    status = serializers.ChoiceField(choices=Delivery.Status.choices)
    policy = serializers.CharField()
    event_type = serializers.CharField(source="event.type")
    event_id = serializers.UUIDField(source="event.event_id")
    correlation_id = serializers.UUIDField(source="event.correlation_id")
    attempts = serializers.IntegerField()
    outside = serializers.BooleanField(help_text="An effect outside the database (mail): at least once.")
    duration_ms = serializers.FloatField(
        allow_null=True, help_text="How long the last attempt took (the policy and its commands), in ms."
    )
    created_at = serializers.DateTimeField()
    next_attempt_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    trace = serializers.SerializerMethodField(help_text="The page of the request's causal tree.")

    def get_trace(self, row: Delivery) -> str:
        return reverse("console:trace", args=[row.event.correlation_id])


class DeliveryDetailOutput(DeliveryOutput):
    payload = serializers.JSONField(source="event.payload", help_text="The event's payload.")


class LagOutput(serializers.Serializer):
    policy = serializers.CharField()
    lane = serializers.ChoiceField(
        choices=[metrics.DATABASE, metrics.OUTSIDE],
        help_text="database: effects in the database (exactly once); outside: mail (at least once).",
    )
    waiting = serializers.IntegerField(help_text="Open rows: pending, or failed waiting for their retry.")
    failed = serializers.IntegerField(help_text="Of those waiting, the ones that failed.")
    due = serializers.IntegerField(help_text="Of those waiting, the ones whose time has come.")
    oldest_due_seconds = serializers.IntegerField(
        allow_null=True, help_text="How long the oldest due row has waited, by the database's clock (null: none due)."
    )
    held = serializers.IntegerField(help_text="Open rows held back by an earlier one of their ordering key.")
    done_recently = serializers.IntegerField(help_text="Rows done in the last 5 minutes.")
    per_minute = serializers.FloatField(help_text="Rows done per minute over the last 5 minutes.")


_NOT_DEAD = errors(404, refusals=[KernelRefusal.NOT_DEAD_LETTERED])


class DeliveryViewSet(ApiViewSet):
    """Deliveries of events to policies, newest first (staff only)."""

    permission_classes = [permissions.IsAdminUser]
    lookup_value_converter = "int"

    @extend_schema(parameters=[DeliveryFilter], responses={200: DeliveryOutput(many=True), **errors(400)})
    def list(self, request):
        """Deliveries, optionally narrowed by status, policy, event type, age and correlation id."""
        query = validated(DeliveryFilter, request.query_params)
        rows = log.deliveries(
            statuses=query.get("status", ()),
            policy=query.get("policy"),
            event_type=query.get("event_type"),
            older_than=query.get("older_than"),
            correlation_id=query.get("correlation_id"),
        )
        return self.get_paginated_response(DeliveryOutput(self.paginate_queryset(rows), many=True).data)

    @extend_schema(responses={200: LagOutput(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None)
    def lag(self, request):
        """How far behind each policy is, per lane: rows waiting, the oldest due age,
        rows held by their ordering key, and throughput (rows done in the last 5 minutes).
        Only the policies with rows waiting or done lately, ordered by policy then lane."""
        return Response(LagOutput(metrics.lag(), many=True).data)

    @extend_schema(responses={200: DeliveryDetailOutput, **errors(404)})
    def retrieve(self, request, pk):
        """One delivery, with its event's payload."""
        delivery = self._delivery(pk)
        opened_rows([delivery.event])
        return Response(DeliveryDetailOutput(delivery).data)

    @extend_schema(request=None, responses={200: DeliveryOutput, **_NOT_DEAD})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk):
        """Retry a dead letter once its fault is fixed: fresh attempts, due at once, run by
        the relay workers (never in this request). Answers the delivery reopened."""
        dead_letters.retry([self._dead(pk).pk])
        return Response(DeliveryOutput(self._delivery(pk)).data)

    @extend_schema(request=None, responses={200: DeliveryOutput, **_NOT_DEAD})
    @action(detail=True, methods=["post"])
    def discard(self, request, pk):
        """Give up on a dead letter: the row stays, marked discarded, never delivered."""
        dead_letters.discard([self._dead(pk).pk])
        return Response(DeliveryOutput(self._delivery(pk)).data)

    def _delivery(self, pk) -> Delivery:
        row = log.deliveries().filter(pk=pk).first()
        if row is None:
            raise NotFound("No such delivery.")
        return row

    def _dead(self, pk) -> Delivery:
        row = self._delivery(pk)
        try:
            dead_letters.require_dead(row)
        except dead_letters.NotDeadLettered as refused:
            raise NotDeadLettered(str(refused)) from None
        return row


class NotDeadLettered(APIException):
    """The kernel's ``not_dead_lettered`` refusal as an answer: 409, in the
    ``{code, detail}`` shape (``interfaces.errors.exception_handler``)."""

    status_code = KernelRefusal.NOT_DEAD_LETTERED.status
    default_code = KernelRefusal.NOT_DEAD_LETTERED.value


router = SimpleRouter(use_regex_path=False)
router.register("events", EventViewSet, basename="event")
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = router.urls
