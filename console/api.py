"""REST endpoints of the kernel, for staff: the stored event log, and the
deliveries of events to policies with what an operator does to them (retry
now, skip, discard: ``messaging.operations.deliveries``), one by id or many
by policy and time window, and how far behind each policy is (lag)."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import permissions, serializers
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from interfaces.api_commands import answered_once, execute, validated
from interfaces.schema import errors
from interfaces.viewsets import ApiViewSet
from messaging.models import Delivery
from messaging.operations import deliveries as operations
from messaging.operations import log, metrics
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
        choices=list(metrics.LANES),
        help_text="database: effects in the database (exactly once); outside: mail (at least once); backfill, "
        "outside backfill: the same, opened by a replay, delivered after live ones at their pace.",
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


def _refused(*refusals: KernelRefusal) -> dict:
    return errors(404, refusals=list(refusals))


class SkipInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500, help_text="Why it is skipped: recorded with who skipped it.")


@extend_schema_field({"type": "string", "example": "2h"})
class MomentField(serializers.CharField):
    """A moment: an age before now (``2h``, ``1d``) or an ISO 8601 date or
    datetime (``log.parse_moment``)."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        if len(text) > 40:
            raise serializers.ValidationError("Write an age (2h) or a datetime (2026-12-07T10:30Z).")
        try:
            return log.parse_moment(text)
        except ValueError as invalid:
            raise serializers.ValidationError(str(invalid)) from None


class OperationInput(serializers.Serializer):
    policy = serializers.CharField(required=False, allow_blank=True, max_length=200, help_text="The policy's name.")
    event_type = serializers.CharField(required=False, allow_blank=True, max_length=100)
    since = MomentField(required=False, help_text="Only deliveries opened at or after: an age (2h) or a datetime.")
    until = MomentField(required=False, help_text="Only deliveries opened before: an age or a datetime.")
    dry_run = serializers.BooleanField(default=False, help_text="Count and show the first few; change nothing.")
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="Why: recorded; required to skip."
    )
    limit = serializers.IntegerField(
        default=1000, min_value=1, max_value=10000, help_text="At most this many deliveries in this request."
    )

    def validate(self, data):
        if not any(data.get(name) for name in ("policy", "event_type", "since", "until")):
            raise serializers.ValidationError({"policy": "Select the deliveries: a policy, an event type, a window."})
        return data


class OperationOutput(serializers.Serializer):
    operation = serializers.ChoiceField(choices=[operation.value for operation in operations.Operation])
    dry_run = serializers.BooleanField()
    matched = serializers.IntegerField(help_text="How many deliveries the selection matched when the request began.")
    sample = DeliveryOutput(many=True, help_text="The first few matched.")
    acted = serializers.ListField(child=serializers.IntegerField(), help_text="The ids of the deliveries acted on.")
    events = serializers.ListField(
        child=serializers.UUIDField(), help_text="The events recording the operation, one per batch."
    )
    remaining = serializers.IntegerField(help_text="How many matching deliveries are left (beyond ``limit``).")
    refused = serializers.ListField(
        child=serializers.CharField(), help_text="Batches left alone: every row of them was taken meanwhile."
    )


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

    @extend_schema(request=None, responses={200: DeliveryOutput, **_refused(KernelRefusal.NOT_RETRYABLE)})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk):
        """Retry a failed or dead-lettered delivery now: due at once (a dead one with fresh
        attempts), run by the relay workers (never in this request). A recorded command, with
        you as its actor. Answers the delivery."""
        return self._operate(request, pk, operations.RetryDeliveries(delivery_ids=[self._delivery(pk).pk]))

    @extend_schema(
        request=SkipInput,
        responses={200: DeliveryOutput, **_refused(KernelRefusal.NOT_SKIPPABLE, KernelRefusal.REASON_REQUIRED)},
    )
    @action(detail=True, methods=["post"])
    def skip(self, request, pk):
        """Skip a waiting delivery (pending, failed or dead): settled without running, the
        decision recorded with who and why (``reason``). Answers the delivery."""
        reason = validated(SkipInput, request.data)["reason"]
        return self._operate(
            request, pk, operations.SkipDeliveries(delivery_ids=[self._delivery(pk).pk], reason=reason)
        )

    @extend_schema(request=None, responses={200: DeliveryOutput, **_refused(KernelRefusal.NOT_DEAD_LETTERED)})
    @action(detail=True, methods=["post"])
    def discard(self, request, pk):
        """Give up on a dead letter: the row stays, marked discarded, never delivered."""
        return self._operate(request, pk, operations.DiscardDeliveries(delivery_ids=[self._delivery(pk).pk]))

    @extend_schema(
        operation_id="deliveries_retry_matching",
        request=OperationInput,
        responses={200: OperationOutput, **errors(400)},
    )
    @action(detail=False, methods=["post"], url_path="retry", url_name="retry-matching", pagination_class=None)
    def retry_matching(self, request):
        """Retry now the failed and dead deliveries a policy and time window select, in
        batches (each a recorded command, you its actor); ``dry_run`` only counts them and
        shows the first few. At most ``limit`` per request: ``remaining`` says how many are left."""
        return self._operate_matching(request, operations.Operation.RETRY)

    @extend_schema(
        operation_id="deliveries_skip_matching", request=OperationInput, responses={200: OperationOutput, **errors(400)}
    )
    @action(detail=False, methods=["post"], url_path="skip", url_name="skip-matching", pagination_class=None)
    def skip_matching(self, request):
        """Skip the waiting deliveries a policy and time window select (``reason`` required),
        in batches; ``dry_run`` only counts them."""
        return self._operate_matching(request, operations.Operation.SKIP)

    @extend_schema(
        operation_id="deliveries_discard_matching",
        request=OperationInput,
        responses={200: OperationOutput, **errors(400)},
    )
    @action(detail=False, methods=["post"], url_path="discard", url_name="discard-matching", pagination_class=None)
    def discard_matching(self, request):
        """Discard the dead letters a policy and time window select, in batches; ``dry_run``
        only counts them."""
        return self._operate_matching(request, operations.Operation.DISCARD)

    def _operate(self, request, pk, command) -> Response:
        return execute(request, command, render=lambda result: Response(DeliveryOutput(self._delivery(pk)).data))

    def _operate_matching(self, request, operation: operations.Operation) -> Response:
        return answered_once(request, lambda: self._run_matching(request, operation))

    def _run_matching(self, request, operation: operations.Operation) -> Response:
        query = validated(OperationInput, request.data)
        if operation == operations.Operation.SKIP and not query.get("reason", "").strip():
            raise serializers.ValidationError({"reason": ["Say why: a skip is recorded with its reason."]})
        selection = operations.Selection(
            policy=query.get("policy") or None,
            event_type=query.get("event_type") or None,
            since=query.get("since"),
            until=query.get("until"),
        )
        planned = operations.preview(operation, selection)
        answer = {"operation": operation, "dry_run": query["dry_run"], "matched": planned.count}
        answer["sample"] = DeliveryOutput(
            log.deliveries().filter(pk__in=[row.pk for row in planned.sample]).order_by("pk"), many=True
        ).data
        if query["dry_run"]:
            return Response({**answer, "acted": [], "events": [], "remaining": planned.count, "refused": []})
        outcome = operations.run(
            operation,
            selection,
            actor_id=request.user.pk,
            reason=query.get("reason", ""),
            correlation_id=getattr(request, "correlation_id", None),
            limit=query["limit"],
        )
        return Response(
            {
                **answer,
                "acted": outcome.acted,
                "events": [event.event_id for event in outcome.events],
                "remaining": outcome.remaining,
                "refused": outcome.refused,
            }
        )

    def _delivery(self, pk) -> Delivery:
        row = log.deliveries().filter(pk=pk).first()
        if row is None:
            raise NotFound("No such delivery.")
        return row


router = SimpleRouter(use_regex_path=False)
router.register("events", EventViewSet, basename="event")
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = router.urls
