"""Graph operators (make-graph, graph-match, graph-shortest-paths, graph-to-table, graph-mark-components) and
the graph functions valid inside graph-match / graph-shortest-paths."""

from __future__ import annotations

from huntvault.kql.operators.graph.build import OPERATORS as OPERATORS
from huntvault.kql.operators.graph.match import GRAPH_FUNCTIONS as GRAPH_FUNCTIONS
