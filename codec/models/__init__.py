"""Codec networks and their contract."""

from s2lic.codec.models.base import Encoded, ImageCodecModel, RDOutput
from s2lic.codec.models.s2lic import S2LIC, S2LICConfig

__all__ = ["Encoded", "ImageCodecModel", "RDOutput", "S2LIC", "S2LICConfig"]
