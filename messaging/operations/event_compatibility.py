"""Whether the events of one release can be read by the release before it,
and the other way round: the rules, decided from two event catalogues
(``event_catalogue.catalogue()``) as plain values.

During a rolling deploy both releases read one event store: the new one
reads what the old one wrote (and wrote for years), the old one reads
what the new one writes. An event type's stored form may therefore only
change in ways both can read, or under a new version whose upcaster
rewrites the old form into the new one (``registry.register_upcaster``):

- an event type is never removed, and never loses an upcaster: the store
  still holds its events, of every version;
- at one version, no field is removed or renamed (a rename is a removal
  beside an addition), none changes its type, none becomes required, and no
  field starts or stops being personal data (sealed; ``personal``), since
  each of these writes a payload the other release cannot read;
- at one version, a field may be added with a default: the old release
  reads the new payloads without it (the store ignores fields its class does
  not have) and the new release reads the old ones with its default;
- a new version comes with an upcaster from each version before it, up
  from the committed one, and a version never goes down.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Break:
    """One change the release before could not live beside: which event
    type, and what is wrong, in words that say how to mend it."""

    event: str
    problem: str

    def __str__(self):
        return f"{self.event}: {self.problem}"


def breaks(before: dict, after: dict) -> list[Break]:
    """Every way the catalogue ``after`` breaks readers and writers of the
    catalogue ``before`` (both as ``event_catalogue.catalogue()`` makes
    them); empty when ``after`` may run beside ``before``."""
    found: list[Break] = []
    old_events, new_events = before.get("events", {}), after.get("events", {})
    for name, old in sorted(old_events.items()):
        new = new_events.get(name)
        if new is None:
            found.append(
                Break(name, "the event type is gone, but the store holds its events: keep the class registered")
            )
            continue
        found += [Break(name, problem) for problem in _changes(old, new)]
    return found


def _changes(old: dict, new: dict) -> list[str]:
    old_version, new_version = old["version"], new["version"]
    upcasts = set(new.get("upcasts_from", []))
    problems = [
        f"the upcaster from v{version} is gone, but stored v{version} events need it"
        for version in sorted(set(old.get("upcasts_from", [])) - upcasts)
    ]
    if new_version < old_version:
        return [*problems, f"the version went down from {old_version} to {new_version}"]
    if new_version > old_version:
        missing = [version for version in range(old_version, new_version) if version not in upcasts]
        return problems + [
            f"v{new_version} needs an upcaster from v{version} (registry.register_upcaster)" for version in missing
        ]
    return problems + _field_changes(old["fields"], new["fields"], old_version)


def _field_changes(old: dict, new: dict, version: int) -> list[str]:
    remedy = f"give the event version {version + 1} and an upcaster from v{version}"
    problems = []
    for path, was in sorted(old.items()):
        now = new.get(path)
        if now is None:
            problems.append(f"the field {path!r} was removed or renamed at v{version}: {remedy}")
            continue
        if now["type"] != was["type"]:
            problems.append(f"the field {path!r} changed type from {was['type']} to {now['type']}: {remedy}")
        if was.get("optional") and not now.get("optional"):
            problems.append(f"the field {path!r} lost its default: {remedy}")
        if was.get("personal_of") != now.get("personal_of"):
            problems.append(
                f"the field {path!r} changed whose personal data it is "
                f"({was.get('personal_of') or 'nobody'} to {now.get('personal_of') or 'nobody'}), "
                f"so its stored form changed: {remedy}"
            )
    for path, now in sorted(new.items()):
        parent = _parent(path)
        if path not in old and not now.get("optional") and (parent is None or parent in old):
            problems.append(f"the field {path!r} is new and required, which v{version} events lack: {remedy}")
    return problems


def _parent(path: str) -> str | None:
    """The field a nested field's path lies in (``items`` for
    ``items[].book_id``), ``None`` for a field of the event itself: a new
    field's parts are judged with it, by its own default."""
    if "." not in path:
        return None
    return path.rsplit(".", 1)[0].removesuffix("[]")
