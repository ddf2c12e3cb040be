"""Building blocks shared by the tables: type coercion, term matching, dynamic values, tabular helpers."""
