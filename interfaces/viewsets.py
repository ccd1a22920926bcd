"""The base of the API's viewsets: the input each action reads, declared
once, so that the browsable API draws its form, ``OPTIONS`` describes it
and the schema documents it from the same serializer the action validates
its body with."""

from rest_framework import serializers, viewsets


class NoInput(serializers.Serializer):
    """The body of an action that reads none (``follow``, ``confirm``) or of a read."""


class ApiViewSet(viewsets.GenericViewSet):
    """A viewset whose actions read their body with the serializers of ``inputs``.

    ``inputs`` maps an action's name to its input serializer
    (``{"create": BookInput}``); any other action reads no body. The rows it
    answers come from its context's ``queries``, not from a ``queryset``.
    """

    inputs: dict[str, type[serializers.Serializer]] = {}

    def get_serializer_class(self):
        return self.inputs.get(self.action, NoInput)

    def validated_body(self) -> dict:
        """The request's body checked by this action's input serializer; invalid fields answer 400."""
        serializer = self.get_serializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
