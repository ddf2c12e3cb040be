"""Forward Defender alerts, enriched with their machines, to Log Analytics, the archive and files."""

from __future__ import annotations

from huntvault.forward.budget import RateBudget
from huntvault.forward.deadletter import DeadLetterBox
from huntvault.forward.defender import DefenderClient, MachineCache
from huntvault.forward.loganalytics import (
    DATA_COLLECTOR_RETIREMENT,
    DataCollectorSink,
    LogsIngestionSink,
    shared_key_signature,
)
from huntvault.forward.merge import MERGES, alert_key, merge_logicapp, merge_prefixed
from huntvault.forward.runner import CycleResult, DeliveryResult, Forwarder, PollResult, forward_status
from huntvault.forward.sinks import ALERT_TABLE, MACHINE_TABLE, SINK_KINDS, build_sink
from huntvault.forward.state import ForwardState

__all__ = [
    "ALERT_TABLE",
    "DATA_COLLECTOR_RETIREMENT",
    "MACHINE_TABLE",
    "MERGES",
    "SINK_KINDS",
    "CycleResult",
    "DataCollectorSink",
    "DeadLetterBox",
    "DefenderClient",
    "DeliveryResult",
    "ForwardState",
    "Forwarder",
    "LogsIngestionSink",
    "MachineCache",
    "PollResult",
    "RateBudget",
    "alert_key",
    "build_sink",
    "forward_status",
    "merge_logicapp",
    "merge_prefixed",
    "shared_key_signature",
]
