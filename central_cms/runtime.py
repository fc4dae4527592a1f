"""What the CMS's views and services share for the life of the app (no globals)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from central_cms.blobs import BlobStore
from central_cms.config import CmsConfig
from central_cms.publisher import ManifestPublisher
from devices.clock import Clock
from devices.protocol import SigningKey


@dataclass(frozen=True)
class CmsRuntime:
    config: CmsConfig
    clock: Clock
    signing_key: SigningKey
    publisher: ManifestPublisher
    blobs: BlobStore


def runtime(app: Flask | None = None) -> CmsRuntime:
    found: CmsRuntime = (app or current_app).extensions["ds_runtime"]
    return found
