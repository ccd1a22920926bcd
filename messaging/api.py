"""REST endpoint of the kernel: the stored event log, for staff."""

from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, viewsets
from rest_framework.routers import SimpleRouter

from config.api import errors, validated

from . import queries


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


class EventViewSet(viewsets.GenericViewSet):
    """The event log, oldest first (staff only)."""

    permission_classes = [permissions.IsAdminUser]

    @extend_schema(parameters=[EventFilter], responses={200: StoredEventOutput(many=True), **errors(400)})
    def list(self, request):
        """Stored events, optionally of one correlation id and one type."""
        query = validated(EventFilter, request.query_params)
        events = queries.stored_events(correlation_id=query.get("correlation_id"), event_type=query.get("type"))
        return self.get_paginated_response(StoredEventOutput(self.paginate_queryset(events), many=True).data)


router = SimpleRouter(use_regex_path=False)
router.register("events", EventViewSet, basename="event")

urlpatterns = router.urls
