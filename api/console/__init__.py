"""The operator's console: server-rendered pages under ``/ui``, served by the API process.

A client of the API's own services (the same reads, writes and rules as
``/api``); it reads no table and no Temporal by a side door. See
``CONSOLE_CONTRACT`` in the README's Console section for how a page is added.
"""
