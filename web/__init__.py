"""The compare-and-compress web demo, run by ``s2lic web``: `comparison` (what a
request computes), `views` (how it is shown), `app` (the Gradio page) and the bundled
example images (`examples/`)."""

__all__: list[str] = []
