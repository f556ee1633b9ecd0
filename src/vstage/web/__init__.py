"""The server-rendered web UI (DESIGN §3 "Web UI").

Jinja2 pages with htmx for live fragments and Pico CSS (classless) for the look; every
asset is vendored under ``static/vendor`` so the UI works offline. Routes here are thin:
they call the same service functions the REST endpoints call and only render HTML.
"""
