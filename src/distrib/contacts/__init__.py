"""Contacts stage: read media lists, normalise, merge, validate and suppress."""
