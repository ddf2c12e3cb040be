"""Tabular sources (datatable, print, range, union, externaldata, find, search) as table entries."""
