"""`huntvault forward init`: what Azure needs for each logs-ingestion sink's record shape.

For each sink: the custom table's columns, an ARM template and the same in Bicep (custom table,
DCR of kind Direct with its own logs ingestion endpoint, the Monitoring Metrics Publisher role for
the forwarder's app on the DCR), and a shell script of `az` commands that deploys it and prints the
two values huntvault.toml needs (`dcr_immutable_id`, `endpoint`). The columns come from running a
sample alert and machine through the sink's own merge and shaping (forward.shape).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huntvault.config import ForwardConfig, SinkConfig
from huntvault.durable import write_durably
from huntvault.forward.shape import ColumnSpec, logs_ingestion_columns
from huntvault.forward.sinks import effective

#: the built-in role that may send to a DCR (Logs Ingestion API)
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
DCR_API_VERSION = "2023-03-11"  # kind Direct (a DCR with its own logs ingestion endpoint) needs it
TABLE_API_VERSION = "2022-10-01"


@dataclass(frozen=True)
class AzureSetup:
    """The Azure side of one logs-ingestion sink."""

    sink: str
    merge: str
    table: str  # MDATPAlerts_CL
    stream: str  # Custom-MDATPAlerts_CL
    columns: list[ColumnSpec]
    files: dict[str, str]  # file name -> content


def table_of(stream: str) -> str:
    """The custom table a `Custom-X` stream writes to: X, with the mandatory `_CL` suffix."""
    name = stream.removeprefix("Custom-")
    return name if name.endswith("_CL") else name + "_CL"


def _transform(columns: list[ColumnSpec]) -> str:
    guids = [c.name for c in columns if c.type == "guid"]
    if not guids:
        return "source"
    return "source | extend " + ", ".join(f"{g} = toguid({g})" for g in guids)


def arm_template(table: str, stream: str, columns: list[ColumnSpec], dcr_name: str) -> dict[str, Any]:
    """Custom table + DCR (kind Direct) + role assignment, as an ARM deployment template."""
    dcr_id = "[resourceId('Microsoft.Insights/dataCollectionRules', parameters('dcrName'))]"
    table_id = f"[resourceId('Microsoft.OperationalInsights/workspaces/tables', parameters('workspaceName'), '{table}')]"
    return {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "metadata": {"description": f"huntvault forward: {table} via the Logs Ingestion API"},
        "parameters": {
            "workspaceName": {"type": "string"},
            "location": {"type": "string", "defaultValue": "[resourceGroup().location]"},
            "dcrName": {"type": "string", "defaultValue": dcr_name},
            "principalId": {
                "type": "string",
                "metadata": {"description": "object id of the forwarder app's service principal"},
            },
            "createTable": {
                "type": "bool",
                "defaultValue": True,
                "metadata": {"description": "false for a classic table migrated with `table migrate`"},
            },
        },
        "resources": [
            {
                "condition": "[parameters('createTable')]",
                "type": "Microsoft.OperationalInsights/workspaces/tables",
                "apiVersion": TABLE_API_VERSION,
                "name": f"[format('{{0}}/{table}', parameters('workspaceName'))]",
                "properties": {
                    "plan": "Analytics",
                    "schema": {"name": table, "columns": [{"name": c.name, "type": c.type} for c in columns]},
                },
            },
            {
                "type": "Microsoft.Insights/dataCollectionRules",
                "apiVersion": DCR_API_VERSION,
                "name": "[parameters('dcrName')]",
                "location": "[parameters('location')]",
                "kind": "Direct",
                "dependsOn": [table_id],
                "properties": {
                    "streamDeclarations": {
                        stream: {"columns": [{"name": c.name, "type": c.stream_type} for c in columns]}
                    },
                    "destinations": {
                        "logAnalytics": [
                            {
                                "name": "workspace",
                                "workspaceResourceId": "[resourceId('Microsoft.OperationalInsights/workspaces', "
                                "parameters('workspaceName'))]",
                            }
                        ]
                    },
                    "dataFlows": [
                        {
                            "streams": [stream],
                            "destinations": ["workspace"],
                            "transformKql": _transform(columns),
                            "outputStream": f"Custom-{table}",
                        }
                    ],
                },
            },
            {
                "type": "Microsoft.Authorization/roleAssignments",
                "apiVersion": "2022-04-01",
                "scope": "[format('Microsoft.Insights/dataCollectionRules/{0}', parameters('dcrName'))]",
                "name": f"[guid({dcr_id[1:-1]}, parameters('principalId'), '{MONITORING_METRICS_PUBLISHER}')]",
                "dependsOn": [dcr_id],
                "properties": {
                    "roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', "
                    f"'{MONITORING_METRICS_PUBLISHER}')]",
                    "principalId": "[parameters('principalId')]",
                    "principalType": "ServicePrincipal",
                },
            },
        ],
        "outputs": {
            "dcr_immutable_id": {
                "type": "string",
                "value": f"[reference({dcr_id[1:-1]}, '{DCR_API_VERSION}').immutableId]",
            },
            "endpoint": {
                "type": "string",
                "value": f"[reference({dcr_id[1:-1]}, '{DCR_API_VERSION}').endpoints.logsIngestion]",
            },
        },
    }


def bicep(table: str, stream: str, columns: list[ColumnSpec], dcr_name: str) -> str:
    """The same deployment in Bicep."""

    def cols(attr: str) -> str:
        return "\n".join(f"  {{ name: '{c.name}', type: '{getattr(c, attr)}' }}" for c in columns)

    return f"""// huntvault forward: {table} via the Logs Ingestion API (custom table, DCR, role)
param workspaceName string
param location string = resourceGroup().location
param dcrName string = '{dcr_name}'
@description('object id of the forwarder app\\'s service principal')
param principalId string
@description('false for a classic table migrated with `table migrate`')
param createTable bool = true

var monitoringMetricsPublisher = '{MONITORING_METRICS_PUBLISHER}'
var tableColumns = [
{cols("type")}
]
var streamColumns = [
{cols("stream_type")}
]

resource workspace 'Microsoft.OperationalInsights/workspaces@2022-10-01' existing = {{
  name: workspaceName
}}

resource table 'Microsoft.OperationalInsights/workspaces/tables@{TABLE_API_VERSION}' = if (createTable) {{
  parent: workspace
  name: '{table}'
  properties: {{
    plan: 'Analytics'
    schema: {{ name: '{table}', columns: tableColumns }}
  }}
}}

resource dcr 'Microsoft.Insights/dataCollectionRules@{DCR_API_VERSION}' = {{
  name: dcrName
  location: location
  kind: 'Direct'
  dependsOn: [ table ]
  properties: {{
    streamDeclarations: {{ '{stream}': {{ columns: streamColumns }} }}
    destinations: {{ logAnalytics: [ {{ name: 'workspace', workspaceResourceId: workspace.id }} ] }}
    dataFlows: [ {{
      streams: [ '{stream}' ]
      destinations: [ 'workspace' ]
      transformKql: '{_transform(columns)}'
      outputStream: 'Custom-{table}'
    }} ]
  }}
}}

resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {{
  scope: dcr
  name: guid(dcr.id, principalId, monitoringMetricsPublisher)
  properties: {{
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }}
}}

output dcr_immutable_id string = dcr.properties.immutableId
output endpoint string = dcr.properties.endpoints.logsIngestion
"""


def shell(setup_name: str, sink: SinkConfig, table: str, opts: dict[str, str]) -> str:
    """The `az` commands that deploy the template and print what huntvault.toml needs."""
    client = sink.client_id or "<the forwarder app's client id>"
    return f"""#!/bin/sh
# huntvault forward init: the Azure side of sink {sink.name!r} ({sink.merge} records into {table}).
# Needs: az login, rights to deploy in the resource group and to assign roles (Owner or
# User Access Administrator). Sovereign clouds: `az cloud set --name AzureUSGovernment` (or AzureChinaCloud) first.
set -eu
RG="${{RG:-{opts["resource_group"]}}}"
WORKSPACE="${{WORKSPACE:-{opts["workspace"]}}}"
LOCATION="${{LOCATION:-{opts["location"]}}}"
DCR="${{DCR:-{opts["dcr_name"]}}}"
CLIENT_ID="${{CLIENT_ID:-{client}}}"
CREATE_TABLE="${{CREATE_TABLE:-true}}"

# Coming from the Logic App's classic MDATPAlerts_CL (Data Collector)? Migrate it first so it keeps its
# data and columns, then deploy with CREATE_TABLE=false:
#   az monitor log-analytics workspace table migrate -g "$RG" --workspace-name "$WORKSPACE" -n {table}

# 1. the object id of the forwarder app's service principal (the role goes to it)
PRINCIPAL_ID=$(az ad sp show --id "$CLIENT_ID" --query id -o tsv)

# 2. the custom table, the DCR (kind Direct: it has its own logs ingestion endpoint) and the
#    Monitoring Metrics Publisher role on the DCR for the app, in one deployment
az deployment group create -g "$RG" -n "huntvault-{setup_name}" --template-file "$(dirname "$0")/{setup_name}.dcr.json" \\
  --parameters workspaceName="$WORKSPACE" location="$LOCATION" dcrName="$DCR" principalId="$PRINCIPAL_ID" \\
  createTable="$CREATE_TABLE" --query properties.outputs -o json

# 3. what huntvault.toml needs for [[forward.sinks]] name = "{sink.name}"
az monitor data-collection rule show -g "$RG" -n "$DCR" \\
  --query "{{dcr_immutable_id: immutableId, endpoint: endpoints.logsIngestion}}" -o json
echo 'stream = "{sink.stream}"   # a new role assignment can take up to 30 minutes to apply:'
echo 'the forwarder pauses the sink (nothing is lost) and goes on by itself once it does.'
"""


def azure_setup(
    cfg: ForwardConfig,
    *,
    workspace: str = "<workspace-name>",
    resource_group: str = "<resource-group>",
    location: str = "<location>",
    dcr_name: str = "huntvault-mdatp-alerts",
) -> list[AzureSetup]:
    """The Azure side of each logs-ingestion sink (or of a default one when none is configured)."""
    sinks = [effective(s, cfg.merge) for s in cfg.sinks if s.kind == "logs-ingestion"]
    if not sinks:
        sinks = [effective(SinkConfig(name="sentinel", kind="logs-ingestion"), cfg.merge)]
    opts = {"workspace": workspace, "resource_group": resource_group, "location": location}
    out: list[AzureSetup] = []
    for sink in sinks:
        columns = logs_ingestion_columns(sink.merge, sink.time_generated_field)
        table = table_of(sink.stream)
        name = sink.name
        dcr = dcr_name if len(sinks) == 1 else f"{dcr_name}-{name}"
        files = {
            f"{name}.dcr.json": json.dumps(arm_template(table, sink.stream, columns, dcr), indent=2) + "\n",
            f"{name}.dcr.bicep": bicep(table, sink.stream, columns, dcr),
            f"{name}.table.json": json.dumps(
                {"properties": {"schema": {"name": table, "columns": [c.__dict__ for c in columns]}}},
                indent=2,
            )
            + "\n",
            f"{name}.setup.sh": shell(name, sink, table, {**opts, "dcr_name": dcr}),
        }
        out.append(AzureSetup(name, sink.merge, table, sink.stream, columns, files))
    return out


def write_azure_setup(setups: list[AzureSetup], folder: str | Path) -> list[Path]:
    """Write every file of `setups` into `folder` (the scripts executable); returns the paths."""
    paths: list[Path] = []
    for setup in setups:
        for name, text in setup.files.items():
            path = Path(folder) / name
            write_durably(path, text)
            if name.endswith(".sh"):
                path.chmod(0o755)
            paths.append(path)
    return paths
