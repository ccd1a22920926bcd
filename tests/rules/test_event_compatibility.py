"""Whether one release's events can live beside the release before's,
decided from two catalogues as plain values (``event_compatibility``)."""

import copy

import pytest

from messaging.operations.event_compatibility import breaks

BEFORE = {
    "events": {
        "OrderPlaced": {
            "module": "orders.events",
            "version": 1,
            "upcasts_from": [],
            "fields": {
                "order_id": {"type": "UUID"},
                "items": {"type": "list[OrderedItem]"},
                "items[].book_id": {"type": "UUID"},
                "items[].quantity": {"type": "int"},
                "note": {"type": "str", "optional": True},
            },
        },
        "AccountRegistered": {
            "module": "accounts.events",
            "version": 2,
            "upcasts_from": [1],
            "fields": {
                "account_id": {"type": "UUID"},
                "email": {"type": "str", "personal_of": "account_id"},
            },
        },
    }
}


def changed(change) -> dict:
    after = copy.deepcopy(BEFORE)
    change(after["events"])
    return after


def problems(after: dict) -> list[str]:
    return [str(found) for found in breaks(BEFORE, after)]


def test_the_same_catalogue_breaks_nothing():
    assert breaks(BEFORE, copy.deepcopy(BEFORE)) == []


def test_a_new_event_type_breaks_nothing():
    after = changed(lambda events: events.update(BookReviewed={**events["OrderPlaced"], "module": "catalog.events"}))
    assert problems(after) == []


def test_a_new_field_with_a_default_breaks_nothing():
    after = changed(lambda events: events["OrderPlaced"]["fields"].update(gift={"type": "bool", "optional": True}))
    assert problems(after) == []


def test_a_new_optional_field_holding_parts_is_judged_by_its_own_default():
    def add_wrapping(events):
        events["OrderPlaced"]["fields"].update(
            {"wrapping": {"type": "Wrapping | None", "optional": True}, "wrapping.paper": {"type": "str"}}
        )

    assert problems(changed(add_wrapping)) == []


def test_a_removed_field_breaks_at_the_same_version():
    after = changed(lambda events: events["OrderPlaced"]["fields"].pop("note"))
    assert problems(after) == [
        "OrderPlaced: the field 'note' was removed or renamed at v1: give the event version 2 and an upcaster from v1"
    ]


def test_a_renamed_field_breaks_as_a_removal_beside_a_new_required_field():
    def rename(events):
        fields = events["OrderPlaced"]["fields"]
        fields["id"] = fields.pop("order_id")

    found = problems(changed(rename))
    assert len(found) == 2
    assert "the field 'order_id' was removed or renamed at v1" in found[0]
    assert "the field 'id' is new and required, which v1 events lack" in found[1]


def test_a_retyped_field_breaks():
    after = changed(lambda events: events["OrderPlaced"]["fields"]["items[].quantity"].update(type="str"))
    assert problems(after) == [
        "OrderPlaced: the field 'items[].quantity' changed type from int to str: "
        "give the event version 2 and an upcaster from v1"
    ]


def test_a_new_required_part_of_a_stored_value_breaks():
    after = changed(lambda events: events["OrderPlaced"]["fields"].update({"items[].colour": {"type": "str"}}))
    assert problems(after) == [
        "OrderPlaced: the field 'items[].colour' is new and required, which v1 events lack: "
        "give the event version 2 and an upcaster from v1"
    ]


def test_a_field_that_loses_its_default_breaks():
    after = changed(lambda events: events["OrderPlaced"]["fields"]["note"].pop("optional"))
    assert "the field 'note' lost its default" in problems(after)[0]


@pytest.mark.parametrize(
    "change",
    [
        lambda fields: fields["email"].pop("personal_of"),
        lambda fields: fields["account_id"].update(personal_of="account_id"),
    ],
    ids=["no longer sealed", "newly sealed"],
)
def test_a_field_that_starts_or_stops_being_personal_data_breaks(change):
    after = changed(lambda events: change(events["AccountRegistered"]["fields"]))
    (found,) = problems(after)
    assert "changed whose personal data it is" in found and "version 3 and an upcaster from v2" in found


def test_a_removed_event_type_breaks():
    after = changed(lambda events: events.pop("AccountRegistered"))
    assert problems(after) == [
        "AccountRegistered: the event type is gone, but the store holds its events: keep the class registered"
    ]


def test_a_new_version_with_its_upcaster_may_change_every_field():
    def upgrade(events):
        events["OrderPlaced"].update(version=2, upcasts_from=[1], fields={"order_id": {"type": "str"}})

    assert problems(changed(upgrade)) == []


def test_a_new_version_without_its_upcaster_breaks():
    after = changed(lambda events: events["OrderPlaced"].update(version=2, fields={}))
    assert problems(after) == ["OrderPlaced: v2 needs an upcaster from v1 (registry.register_upcaster)"]


def test_two_versions_at_once_need_an_upcaster_from_each():
    after = changed(lambda events: events["OrderPlaced"].update(version=3, upcasts_from=[2]))
    assert problems(after) == ["OrderPlaced: v3 needs an upcaster from v1 (registry.register_upcaster)"]


def test_a_removed_upcaster_breaks_the_old_stored_events():
    after = changed(lambda events: events["AccountRegistered"].update(upcasts_from=[]))
    assert problems(after) == ["AccountRegistered: the upcaster from v1 is gone, but stored v1 events need it"]


def test_a_version_going_down_breaks():
    after = changed(lambda events: events["AccountRegistered"].update(version=1, upcasts_from=[1]))
    assert problems(after) == ["AccountRegistered: the version went down from 2 to 1"]
