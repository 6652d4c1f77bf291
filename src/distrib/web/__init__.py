"""Interfaces in a browser: the local preview page (and, next, the workspace interface).

Like the command line, they parse a request, call `distrib.app`, and show the result.
"""
