"""Web demo (Gradio compare-and-compress, to come); ships the bundled example images."""

__all__: list[str] = []
