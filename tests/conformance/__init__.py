"""Conformance suites: properties every registered strategy (and space) must have."""
