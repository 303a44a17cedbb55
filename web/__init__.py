"""The Gradio compare-and-compress web demo (`app.py`, run by `s2lic web`) and the
bundled example images (`examples/`)."""

__all__: list[str] = []
