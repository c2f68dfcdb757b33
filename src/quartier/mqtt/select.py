"""``$select`` topics (OGC 18-088, section 14.2): a client that subscribes to
``v1.1/Things?$select=name,description``, ``v1.1/Things(1)?$select=name`` or
``v1.1/Datastreams(1)/Observations?$select=result,phenomenonTime`` receives there what
the topic without the query announces, narrowed as a GET with that ``$select`` answers.

A publisher does not learn what others subscribe to, and the combinations of ``$select``
are too many to publish them all. Mosquitto can tell, though: with ``log_dest topic`` and
``log_type subscribe`` / ``log_type unsubscribe`` it publishes every SUBSCRIBE and
UNSUBSCRIBE it handles, as

* ``$SYS/broker/log/M/subscribe``: ``<unix time>: <client id> <qos> <topic filter>``
* ``$SYS/broker/log/M/unsubscribe``: ``<unix time>: <client id> <topic filter>``

Each worker reads both (a subscription of its own, not a shared one, since each worker
announces the changes it commits) and keeps here the ``$select`` topics that clients
want. A topic is dropped once every client seen subscribing to it has unsubscribed; a
topic many clients took, or one from the ``mqtt_select_topics`` setting, stays for good
(publishing to a topic nobody reads costs the broker little).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from quartier.errors import BadRequest, QuartierError
from quartier.model.entities import ENTITY_SETS, ENTITY_TYPES
from quartier.mqtt.topics import TENANT_NAME, VERSION
from quartier.query.options import Limits, parse_options
from quartier.query.path import parse_path

log = logging.getLogger(__name__)

SUBSCRIBE_LOG = "$SYS/broker/log/M/subscribe"
UNSUBSCRIBE_LOG = "$SYS/broker/log/M/unsubscribe"
LOG_TOPICS = (SUBSCRIBE_LOG, UNSUBSCRIBE_LOG)
MAX_TOPICS = 10_000  # $select topics kept at once; more are ignored, with a warning
MAX_HOLDERS = 64  # clients remembered per topic; past that, the topic is kept for good

_ROOT = re.compile(rf"(?:t/{TENANT_NAME}/)?{re.escape(VERSION)}/(?P<path>[^?]+)\?\$select=(?P<select>.*)",
                   re.DOTALL)
_SHARED = re.compile(r"\$share/[^/]+/")
_LINE = re.compile(r"[0-9]+: (?P<rest>.*)", re.DOTALL)
# between the client id and the filter: " <qos> " in a subscribe line, " " in an
# unsubscribe line (a lookahead, so that overlapping places are all found)
_QOS_GAP = re.compile(r"(?= [012] )")
_GAP = re.compile(r"(?= )")
_ANY_LIMITS = Limits(default_top=1, max_top=1)  # $select alone does not look at them


@dataclass(frozen=True)
class SelectTopic:
    topic: str  # as clients subscribe to it and Quartier publishes on it
    base: str  # the topic it narrows, as the announcements name it: v1.1/Things(1)
    select: str  # the $select value, as GET takes it
    names: tuple[str, ...]  # that value parsed


def parse_select_topic(prefix: str, topic_filter: str) -> SelectTopic:
    """The ``$select`` topic a subscription names (``$share/group/`` removed); a
    QuartierError saying why when it is none that Quartier publishes on."""
    topic = topic_filter
    shared = _SHARED.match(topic)
    if shared is not None:
        topic = topic[shared.end():]
    if not topic.startswith(prefix):
        raise BadRequest(f"the topic does not start with the prefix {prefix!r}")
    found = _ROOT.fullmatch(topic, len(prefix))
    if found is None:
        raise BadRequest(f"not a topic of the form {VERSION}/<path>?$select=<names>")
    if "+" in topic or "#" in topic:
        raise BadRequest("a topic filter with wildcards names no single topic")
    path = found.group("path")
    segments = parse_path(path).segments
    etype = ENTITY_SETS.get(segments[0].name)
    if etype is not None and len(segments) == 2:  # Set(id)/Relation, to many entities
        rel = etype.find_relation(segments[1].name)
        many = rel is not None and rel.many and segments[0].key is not None and segments[1].key is None
        etype = ENTITY_TYPES[rel.target] if many and rel is not None else None
    if etype is None or len(segments) > 2:
        raise BadRequest(f"{path!r} is no entity set, entity, or navigation path to a set")
    canonical = "/".join(s.name if s.key is None else f"{s.name}({s.key})" for s in segments)
    if canonical != path:
        raise BadRequest(f"the path is written {canonical!r} in the announcements, not {path!r}")
    select = unquote(found.group("select"))
    names = parse_options([("$select", select)], etype, _ANY_LIMITS).select
    assert names is not None
    return SelectTopic(topic, topic[:topic.index("?")], select, tuple(names))


class SelectTopics:
    """The ``$select`` topics to publish on, by the topic each narrows."""

    def __init__(self, prefix: str, always: Iterable[str] = ()) -> None:
        self.prefix = prefix
        self._by_base: dict[str, dict[str, SelectTopic]] = {}
        # the clients seen subscribing to each topic; None: kept for good
        self._holders: dict[str, set[str] | None] = {}
        self._warned_full = False
        for topic in always:
            self._add(parse_select_topic(prefix, topic), None)

    def get(self, base: str) -> Mapping[str, SelectTopic] | None:
        """The ``$select`` topics that narrow ``base`` (None for most topics)."""
        return self._by_base.get(base)

    def __len__(self) -> int:
        return len(self._holders)

    def take_log(self, log_topic: str, payload: bytes) -> None:
        """Follow one line of the broker's subscribe or unsubscribe log."""
        text = payload.decode("utf-8", "replace")
        line = _LINE.fullmatch(text)
        if line is None or "?$select=" not in text:
            return
        rest = line.group("rest")
        if log_topic == SUBSCRIBE_LOG:
            self._subscribed(rest)
        elif log_topic == UNSUBSCRIBE_LOG:
            self._unsubscribed(rest)

    def _subscribed(self, rest: str) -> None:
        # A client id may hold spaces: the first split that leaves a topic of ours wins.
        first_error: QuartierError | None = None
        for gap in _QOS_GAP.finditer(rest):
            try:
                topic = parse_select_topic(self.prefix, rest[gap.start() + 3:])
            except QuartierError as exc:
                first_error = first_error or exc
                continue
            self._add(topic, rest[:gap.start()])
            return
        log.debug("not publishing on the subscribed topic in %r: %s", rest,
                  first_error.message if first_error else "no topic filter found")

    def _unsubscribed(self, rest: str) -> None:
        for gap in _GAP.finditer(rest):
            topic = rest[gap.start() + 1:]
            shared = _SHARED.match(topic)
            if shared is not None:
                topic = topic[shared.end():]
            if topic in self._holders:
                self._drop(topic, rest[:gap.start()])
                return

    def _add(self, topic: SelectTopic, client: str | None) -> None:
        if topic.topic not in self._holders:
            if len(self._holders) >= MAX_TOPICS:
                if not self._warned_full:
                    self._warned_full = True
                    log.warning("%d $select topics are published on already; further ones are "
                                "ignored until some are unsubscribed", MAX_TOPICS)
                return
            self._holders[topic.topic] = set()
            self._by_base.setdefault(topic.base, {})[topic.topic] = topic
            log.debug("publishing on %s from now on", topic.topic)
        holders = self._holders[topic.topic]
        if holders is None:
            return
        if client is None or len(holders) >= MAX_HOLDERS:
            self._holders[topic.topic] = None
        else:
            holders.add(client)

    def _drop(self, topic: str, client: str) -> None:
        holders = self._holders[topic]
        if holders is None:
            return
        holders.discard(client)
        if holders:
            return
        del self._holders[topic]
        base = topic[:topic.index("?")]
        narrowing = self._by_base[base]
        del narrowing[topic]
        if not narrowing:
            del self._by_base[base]
        self._warned_full = False
        log.debug("no longer publishing on %s", topic)
