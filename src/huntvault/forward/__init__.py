"""Forward Defender alerts, enriched with their machines, to Log Analytics, the archive and files."""

from __future__ import annotations

from huntvault.forward.anatomy import Rewindable, Sink, units_by_bytes
from huntvault.forward.azuresetup import AzureSetup, azure_setup, write_azure_setup
from huntvault.forward.budget import RateBudget
from huntvault.forward.deadletter import DeadLetter, DeadLetterBox
from huntvault.forward.defender import DefenderClient, MachineCache
from huntvault.forward.loganalytics import (
    DATA_COLLECTOR_RETIREMENT,
    DataCollectorSink,
    LogsIngestionSink,
    shared_key_signature,
)
from huntvault.forward.merge import (
    MERGE_MODES,
    MERGES,
    MergeMode,
    alert_key,
    classic_columns,
    merge_classic,
    merge_logicapp,
    merge_prefixed,
)
from huntvault.forward.runner import CycleResult, DeliveryResult, Forwarder, PollResult
from huntvault.forward.shape import ALERT_TABLE, MACHINE_TABLE, ColumnSpec, logs_ingestion_columns
from huntvault.forward.sinks import SINK_KINDS, build_sink
from huntvault.forward.state import ForwardState
from huntvault.forward.status import (
    AlertsView,
    ComponentStatus,
    Delivery,
    ForwardedAlert,
    ForwardStatus,
    SinkStatus,
    forward_status,
    forwarded_alerts,
    forwarder_running,
)

__all__ = [
    "ALERT_TABLE",
    "DATA_COLLECTOR_RETIREMENT",
    "MACHINE_TABLE",
    "MERGES",
    "MERGE_MODES",
    "SINK_KINDS",
    "AlertsView",
    "AzureSetup",
    "ColumnSpec",
    "ComponentStatus",
    "CycleResult",
    "DataCollectorSink",
    "DeadLetter",
    "DeadLetterBox",
    "DefenderClient",
    "Delivery",
    "DeliveryResult",
    "ForwardState",
    "ForwardStatus",
    "ForwardedAlert",
    "Forwarder",
    "LogsIngestionSink",
    "MachineCache",
    "MergeMode",
    "PollResult",
    "RateBudget",
    "Rewindable",
    "Sink",
    "SinkStatus",
    "alert_key",
    "azure_setup",
    "build_sink",
    "classic_columns",
    "forward_status",
    "forwarded_alerts",
    "forwarder_running",
    "logs_ingestion_columns",
    "merge_classic",
    "merge_logicapp",
    "merge_prefixed",
    "shared_key_signature",
    "units_by_bytes",
    "write_azure_setup",
]
