"""The Gradio compare-and-compress demo (``s2lic web``).

This module is only the user interface: what a request computes is in
`s2lic.web.comparison` and how it is shown in `s2lic.web.views`, both plain functions
tested without a browser. The ``on_*`` handlers below wrap them for Gradio and turn
every failure into a one-line message in the page (`gr.Error`), so that no input can
crash the server.

Gradio is imported at module level: only ``s2lic web`` imports this module.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, TypeVar

import gradio as gr
from PIL import Image

from s2lic.codec.image import to_planes
from s2lic.codec.registry import DEFAULT_QUALITY
from s2lic.entropy.errors import S2LICError
from s2lic.eval.classical import get_classical
from s2lic.web.comparison import (
    COMPARE_CODECS,
    OFFERED_CODECS,
    ORIGINAL,
    SHORT_NAMES,
    Comparison,
    DemoSettings,
    Report,
    compare,
    decode_upload,
    example_paths,
    load_upload,
    model_notice,
    no_report,
    temporary_folder,
)
from s2lic.web.views import (
    TABLE_HEADERS,
    TABLE_TYPES,
    ZOOM_FACTOR,
    header_markdown,
    mark_zoom,
    markdown_code,
    request_folder,
    save_downloads,
    status_markdown,
    table_rows,
    view_pair,
    workdir,
    zoom_crops,
)

__all__ = [
    "build_app",
    "launch",
    "on_compress",
    "on_decode",
    "on_upload",
    "on_zoom",
]

log = logging.getLogger(__name__)

_F = TypeVar("_F", bound=Callable[..., Any])

# Messages of `load_image` carry CLI hints; the page has no command line.
_CLI_HINT = re.compile(r"\s*\(use --max-pixels\)")


# --------------------------------------------------------------------------------------
# Gradio handlers: plain functions in, page updates out, failures as messages


def _one_line(exc: BaseException, path: str | Path | None = None) -> str:
    text = str(exc) or type(exc).__name__
    if path is not None:
        # Uploads live under Gradio's cache folder; the user knows the file's name.
        text = text.replace(str(path), Path(path).name)
    return _CLI_HINT.sub("", " ".join(text.split()))


def _friendly(title: str) -> Callable[[_F], _F]:
    """Turn every exception of a handler into a `gr.Error` shown in the page."""

    def wrap(fn: _F) -> _F:
        @functools.wraps(fn)
        def handler(*args: Any, **kwargs: Any) -> Any:
            path = args[0] if args and isinstance(args[0], str | Path) else None
            try:
                return fn(*args, **kwargs)
            except gr.Error:
                raise
            except (S2LICError, ValueError, OSError) as e:
                raise gr.Error(
                    _one_line(e, path), title=title, print_exception=False
                ) from None
            except MemoryError:
                raise gr.Error(
                    "out of memory: try a smaller image", title=title
                ) from None
            except Exception as e:  # the last resort: the server stays up
                log.exception("%s failed", title)
                raise gr.Error(
                    f"internal error: {type(e).__name__}: {_one_line(e, path)}",
                    title=title,
                    print_exception=False,
                ) from None

        return handler  # type: ignore[return-value]

    return wrap


def _reporter(progress: gr.Progress | None) -> Report:
    """`compare`'s progress callback on top of Gradio's progress bar."""
    if progress is None:
        return no_report

    def report(fraction: float, message: str) -> None:
        progress(fraction, desc=message)

    return report


@_friendly("Cannot read this file")
def on_upload(path: str | None, settings: DemoSettings) -> tuple[Any, str]:
    """A new upload: show it (or clear the page when the upload was removed).

    Returns:
        The preview image and a one-line description.
    """
    if path is None:
        return None, ""
    image = load_upload(path, settings.max_pixels)
    w, h = image.size
    return (
        to_planes(image).rgb,
        f"{markdown_code(Path(path).name)}: {w}x{h} ({w * h:,} pixels), "
        f"mode {image.mode}",
    )


def _effort_level(value: float | None, limit: int) -> int:
    """The encoder effort level a request asked for (a slider sends a float)."""
    level = 0 if value is None else value
    if not (
        isinstance(level, int | float)
        and not isinstance(level, bool)
        and math.isfinite(level)
        and level == int(level)
        and level >= 0
    ):
        raise ValueError(
            f"encoder effort must be a whole number from 0 to {limit}, got {value}"
        )
    if level > limit:
        raise ValueError(
            f"encoder effort {value:g} is not offered: at most {limit} on this server"
        )
    return int(level)


@_friendly("Cannot compress")
def on_compress(
    path: str | None,
    rate_mode: str,
    quality: float,
    bpp: float | None,
    codecs: Sequence[str],
    settings: DemoSettings,
    progress: gr.Progress | None = None,
    center: tuple[float, float] | None = None,
    effort: float = 0,
) -> dict[str, Any]:
    """Compress an upload and build every output of the results area.

    Args:
        path: the uploaded file.
        rate_mode: "quality" or "target bpp".
        quality: s2lic quality, for "quality".
        bpp: bits per pixel, for "target bpp".
        codecs: the classical codecs to compare with.
        settings: model, device, limits.
        progress: Gradio's progress bar.
        center: (x, y) of the zoomed area (the image centre if None).
        effort: s2lic's encoder effort level, 0 to ``settings.max_effort``.

    Returns:
        A dict with ``comparison``, ``slider``, ``rows``, ``status``, ``s2lic_path``,
        ``png_path``, ``crops`` and ``marked`` (the original with the zoomed area
        outlined).
    """
    level = _effort_level(effort, settings.max_effort)
    image = load_upload(path, settings.max_pixels)
    if rate_mode == "target bpp":
        if bpp is None or not (isinstance(bpp, int | float) and bpp > 0):
            raise ValueError("the target bpp must be a positive number")
        kwargs: dict[str, float | None] = {"bpp": float(bpp)}
    else:
        kwargs = {"quality": float(quality) if quality is not None else None}
    stem = Path(str(path)).stem or "image"
    comparison = compare(
        image,
        settings,
        codecs=list(codecs),
        stem=stem,
        report=_reporter(progress),
        effort=level,
        **kwargs,
    )
    s2lic_path, png_path = save_downloads(comparison, workdir(settings))
    return {
        "comparison": comparison,
        "slider": view_pair(comparison, ORIGINAL, "s2lic"),
        "rows": table_rows(comparison),
        "status": status_markdown(comparison),
        "s2lic_path": s2lic_path,
        "png_path": png_path,
        "crops": zoom_crops(comparison, center),
        "marked": mark_zoom(comparison.original, center),
    }


@_friendly("Cannot zoom")
def on_zoom(
    comparison: Comparison | None, center: tuple[float, float] | None
) -> tuple[Any, Any]:
    """Crops around ``center`` for every codec, and the original with the square."""
    if comparison is None:
        raise ValueError("compress an image first; then click it to zoom")
    return zoom_crops(comparison, center), mark_zoom(comparison.original, center)


@_friendly("Cannot decode")
def on_decode(
    path: str | None, settings: DemoSettings, progress: gr.Progress | None = None
) -> tuple[str, Image.Image, Path]:
    """Decode an uploaded `.s2lic` file.

    Returns:
        The header as Markdown, the decoded image and the path of its PNG.
    """
    if progress is not None:
        progress(0.0, desc="decoding")
    result = decode_upload(path, settings)
    folder = request_folder(workdir(settings))
    png = folder / f"{Path(str(path)).stem}.png"
    result.image.save(png, format="PNG")
    return header_markdown(result.header, result.seconds), result.image, png


# --------------------------------------------------------------------------------------
# The page


_CSS: Final = """
#model-notice { border-left: 4px solid #e0a000; padding-left: 0.75em; }
#results-table table { font-variant-numeric: tabular-nums; }
"""

_INTRO: Final = """\
# s2lic: compress and compare

Upload an image (or pick the example), choose a quality or a target bpp and press
**Compress**. s2lic's result is compared with the original and with JPEG, WebP, AVIF
and JPEG XL encoded to (nearly) the same number of bytes: drag the slider, pick the two
sides below it, and click the original to zoom into a detail of every codec.
"""


def _available_codecs() -> list[tuple[str, str]]:
    choices = []
    for key in OFFERED_CODECS:
        if get_classical(key).unavailable() is None:
            choices.append((SHORT_NAMES[key], key))
    return choices


@dataclass
class _CompressTab:
    """The components of the Compress tab that events read or write."""

    upload: gr.File
    upload_info: gr.Markdown
    rate_mode: gr.Radio
    quality: gr.Slider
    bpp: gr.Number
    effort: gr.Slider
    codecs: gr.CheckboxGroup
    run: gr.Button
    preview: gr.Image
    status: gr.Markdown
    slider: gr.ImageSlider
    left: gr.Dropdown
    right: gr.Dropdown
    table: gr.Dataframe
    download_s2lic: gr.DownloadButton
    download_png: gr.DownloadButton
    zoom: gr.Gallery
    comparison: gr.State
    center: gr.State


_EFFORT_TIMES: Final = ("~1 s", "~30 s", "~50 s", "~100 s", "~5 min")
"""Encode time of a 768x512 image on 2 CPU cores at each effort level
(docs/effort.md)."""


def _effort_info(max_effort: int) -> str:
    """The effort slider's help: what the levels buy and what they cost."""
    times = ", ".join(
        f"{t} at {level}"
        for level, t in enumerate(_EFFORT_TIMES[: max(max_effort, 1) + 1])
    )
    return (
        "higher levels fit s2lic's file to the image (docs/effort.md): fewer bytes "
        f"at the same quality, for a slower encoding ({times} for a 768x512 image "
        "on 2 CPU cores)"
    )


def _compress_tab(examples: list[Path], max_effort: int) -> _CompressTab:
    codec_choices = _available_codecs()
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            upload = gr.File(
                label="Image",
                file_count="single",
                type="filepath",
                elem_id="input-file",
            )
            gr.Examples(
                examples=[[str(p)] for p in examples], inputs=[upload], label="Example"
            )
            upload_info = gr.Markdown(elem_id="input-info")
            rate_mode = gr.Radio(
                ["quality", "target bpp"], value="quality", label="Rate control"
            )
            quality = gr.Slider(
                0.0, 1.0, value=DEFAULT_QUALITY, step=0.01, label="quality"
            )
            bpp = gr.Number(0.5, label="target bpp", minimum=0.001, visible=False)
            effort = gr.Slider(
                0,
                max(max_effort, 1),
                value=0,
                step=1,
                label="encoder effort (0 = fastest)",
                info=_effort_info(max_effort),
                visible=max_effort > 0,
                elem_id="effort",
            )
            codecs = gr.CheckboxGroup(
                codec_choices,
                value=[k for _, k in codec_choices if k in COMPARE_CODECS],
                label="Compare with (at the same file size)",
            )
            run = gr.Button("Compress", variant="primary", elem_id="compress")
        with gr.Column(scale=2, min_width=400):
            preview = gr.Image(
                label="Original: click to choose the zoomed area",
                type="numpy",
                format="png",
                interactive=False,
                elem_id="preview",
            )
            status = gr.Markdown(elem_id="status")
    slider = gr.ImageSlider(
        label="Compare (drag the handle)",
        type="numpy",
        format="png",
        interactive=False,
        max_height=700,
        elem_id="compare-slider",
    )
    with gr.Row():
        left = gr.Dropdown(
            [ORIGINAL], value=ORIGINAL, label="left side", elem_id="left"
        )
        right = gr.Dropdown(
            ["s2lic"], value="s2lic", label="right side", elem_id="right"
        )
    table = gr.Dataframe(
        headers=list(TABLE_HEADERS),
        datatype=TABLE_TYPES,
        interactive=False,
        wrap=True,
        label="Results (complete files; PSNR-RGB; times on this server)",
        elem_id="results-table",
    )
    with gr.Row():
        download_s2lic = gr.DownloadButton(
            "Download .s2lic", visible=False, elem_id="download-s2lic"
        )
        download_png = gr.DownloadButton(
            "Download decoded PNG", visible=False, elem_id="download-png"
        )
    zoom = gr.Gallery(
        label=f"Zoom {ZOOM_FACTOR}x (click the original above to move it)",
        columns=3,
        format="png",
        object_fit="contain",
        elem_id="zoom",
    )
    return _CompressTab(
        upload=upload,
        upload_info=upload_info,
        rate_mode=rate_mode,
        quality=quality,
        bpp=bpp,
        effort=effort,
        codecs=codecs,
        run=run,
        preview=preview,
        status=status,
        slider=slider,
        left=left,
        right=right,
        table=table,
        download_s2lic=download_s2lic,
        download_png=download_png,
        zoom=zoom,
        comparison=gr.State(None),
        center=gr.State(None),
    )


def _wire_upload(ui: _CompressTab, settings: DemoSettings) -> None:
    results = [
        ui.comparison,
        ui.preview,
        ui.upload_info,
        ui.status,
        ui.slider,
        ui.table,
        ui.download_s2lic,
        ui.download_png,
        ui.zoom,
    ]

    def clear_results() -> tuple[Any, ...]:
        hidden = gr.update(value=None, visible=False)
        return (None, None, "", "", None, None, hidden, hidden, None)

    def show_upload(path: str | None) -> tuple[Any, str]:
        return on_upload(path, settings)

    # Cleared first, so that an upload that fails to load leaves no stale results
    # of the previous image next to its error message.
    ui.upload.change(clear_results, outputs=results, queue=False).then(
        show_upload,
        inputs=[ui.upload],
        outputs=[ui.preview, ui.upload_info],
        concurrency_limit=2,
    )
    ui.rate_mode.change(
        lambda mode: (
            gr.update(visible=mode == "quality"),
            gr.update(visible=mode != "quality"),
        ),
        inputs=[ui.rate_mode],
        outputs=[ui.quality, ui.bpp],
        queue=False,
    )


def _wire_compress(ui: _CompressTab, settings: DemoSettings) -> None:
    def run_compress(
        path: str | None,
        mode: str,
        q: float,
        b: float | None,
        level: float,
        chosen: list[str],
        center: tuple[float, float] | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's idiom
    ) -> tuple[Any, ...]:
        out = on_compress(
            path, mode, q, b, chosen, settings, progress, center, effort=level
        )
        comparison: Comparison = out["comparison"]
        names = comparison.names()
        return (
            comparison,
            out["slider"],
            gr.update(choices=names, value=ORIGINAL),
            gr.update(choices=names, value="s2lic"),
            out["rows"],
            out["status"],
            gr.update(
                value=str(out["s2lic_path"]),
                label=f"Download .s2lic ({comparison.s2lic.size:,} bytes)",
                visible=True,
            ),
            gr.update(value=str(out["png_path"]), visible=True),
            out["crops"],
            out["marked"],
        )

    ui.run.click(
        run_compress,
        inputs=[
            ui.upload,
            ui.rate_mode,
            ui.quality,
            ui.bpp,
            ui.effort,
            ui.codecs,
            ui.center,
        ],
        outputs=[
            ui.comparison,
            ui.slider,
            ui.left,
            ui.right,
            ui.table,
            ui.status,
            ui.download_s2lic,
            ui.download_png,
            ui.zoom,
            ui.preview,
        ],
        concurrency_limit=1,
        concurrency_id="codec",
    )

    def change_view(comparison: Comparison | None, a: str, b: str) -> Any:
        if comparison is None or not {a, b} <= set(comparison.names()):
            return gr.update()
        return view_pair(comparison, a, b)

    for side in (ui.left, ui.right):
        side.change(
            change_view,
            inputs=[ui.comparison, ui.left, ui.right],
            outputs=[ui.slider],
            concurrency_limit=4,
        )

    def select_zoom(
        comparison: Comparison | None, evt: gr.SelectData
    ) -> tuple[Any, Any, Any]:
        x, y = evt.index
        center = (float(x), float(y))
        if comparison is None:
            return gr.update(), gr.update(), center
        crops, marked = on_zoom(comparison, center)
        return crops, marked, center

    ui.preview.select(
        select_zoom,
        inputs=[ui.comparison],
        outputs=[ui.zoom, ui.preview, ui.center],
        concurrency_limit=4,
    )


def _decode_tab(settings: DemoSettings) -> None:
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            s2lic_file = gr.File(
                label=".s2lic file",
                file_count="single",
                type="filepath",
                elem_id="decode-file",
            )
            header = gr.Markdown(elem_id="decode-header")
            download = gr.DownloadButton(
                "Download PNG", visible=False, elem_id="download-decoded"
            )
        with gr.Column(scale=2):
            decoded = gr.Image(
                label="Decoded",
                type="pil",
                format="png",
                interactive=False,
                elem_id="decoded",
            )

    def run_decode(
        path: str | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio's idiom
    ) -> tuple[Any, Any, Any]:
        if path is None:
            return "", None, gr.update(visible=False)
        md, image, png = on_decode(path, settings, progress)
        return md, image, gr.update(value=str(png), visible=True)

    s2lic_file.change(
        lambda: ("", None, gr.update(visible=False)),
        outputs=[header, decoded, download],
        queue=False,
    ).then(
        run_decode,
        inputs=[s2lic_file],
        outputs=[header, decoded, download],
        concurrency_limit=1,
        concurrency_id="codec",
    )


def build_app(settings: DemoSettings) -> gr.Blocks:
    """The page: a Compress tab and a Decode tab.

    The model is loaded here, so that a bad model or device fails before the server
    starts. Coding runs in Gradio's queue one job at a time (the events share the
    `concurrency_id` "codec"): a large image makes other requests wait their turn
    with their place in the queue shown; it does not freeze the page.

    Args:
        settings: model, device and limits.

    Returns:
        The Gradio app, ready for `launch`.
    """
    if settings.workdir is None:
        # In the system's temporary folder: Gradio serves downloads from there.
        settings = replace(settings, workdir=temporary_folder("s2lic-web-"))
    notice = model_notice(settings)
    examples = example_paths()
    with gr.Blocks(
        title="s2lic demo", analytics_enabled=False, delete_cache=(1800, 3600)
    ) as demo:
        gr.Markdown(_INTRO)
        gr.Markdown(notice, elem_id="model-notice")
        with gr.Tab("Compress", id="compress-tab"):
            ui = _compress_tab(examples, settings.max_effort)
            _wire_upload(ui, settings)
            _wire_compress(ui, settings)
        with gr.Tab("Decode .s2lic", id="decode-tab"):
            _decode_tab(settings)
    demo.queue(max_size=32)
    return demo


def launch(
    demo: gr.Blocks,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
) -> None:
    """Serve the app (blocks until interrupted unless ``prevent_thread_lock``).

    Args:
        demo: from `build_app`.
        host: the interface to listen on.
        port: the TCP port.
        prevent_thread_lock: return at once and serve from a thread (tests).
        quiet: do not print the URL.

    Raises:
        OSError: the port is taken.
    """
    theme = gr.themes.Soft(
        # System fonts: the default theme would fetch Google Fonts from the browser.
        font=["ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=["ui-monospace", "monospace"],
    )
    demo.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        share=False,
        inbrowser=False,
        ssr_mode=False,
        show_error=True,
        max_file_size="64mb",
        footer_links=[],
        theme=theme,
        css=_CSS,
    )
