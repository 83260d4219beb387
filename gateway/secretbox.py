"""Encryption at rest for destination secrets and credentials (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from ``GATEWAY_ENCRYPTION_KEY`` or, on first run, is generated into
``<database dir>/gateway.key`` (mode 0600) so the embedded default needs no setup.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from gateway.errors import GatewayError

KEY_FILE_NAME = "gateway.key"


class SecretBox:
    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise GatewayError("GATEWAY_ENCRYPTION_KEY is not a valid Fernet key") from exc

    @classmethod
    def from_settings(cls, key: str | None, directory: Path) -> SecretBox:
        if key:
            return cls(key)
        path = directory / KEY_FILE_NAME
        if not path.exists():
            directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(Fernet.generate_key().decode())
        return cls(path.read_text().strip())

    def seal(self, value: Any) -> str:
        return self._fernet.encrypt(json.dumps(value).encode()).decode()

    def open(self, token: str | None) -> Any:
        if token is None:
            return None
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise GatewayError(
                "stored secret cannot be decrypted: wrong GATEWAY_ENCRYPTION_KEY?"
            ) from exc
