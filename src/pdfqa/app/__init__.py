"""The stakeholder app (``pdfqa serve``): ask with page evidence, documents and uploads, an
online A/B arena, monitoring, and feedback that flows back into the ``qa`` stage.

``service`` holds what every user shares (the bundle's engines, loaded once; the live index;
the monitoring database; the feedback log) and does the work; ``ui`` is the Gradio page over it;
``server`` launches it safely (loopback, queue limits, no analytics, no share links).
``monitor``, ``pages``, ``arena`` and ``feedback_log`` are the small pieces those use.
"""
