"""Gateway settings from the environment (`ALLMENDE_*`), with refusal of unsafe production setups."""

from __future__ import annotations

import base64
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_KEYS = {"", "changeme", "change-me", "placeholder", "dev", "development"}
DEFAULT_PROVIDER_CATEGORIES = (
    "food",
    "school_supplies",
    "sports",
    "culture",
    "clothing",
    "household",
    "health",
    "transport",
    "tutoring",
)
"""Category keys of providers and restricted programs, in bit order (the pages translate the known ones)."""
CATEGORY_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class SettingsError(RuntimeError):
    """The settings are unsafe or incomplete for the chosen environment."""


class Settings(BaseSettings):
    """Where the gateway keeps its data, which chain it uses and how it protects keys."""

    model_config = SettingsConfigDict(env_prefix="ALLMENDE_", env_file=None)

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path(".allmende")
    database_url: str | None = None  # default: SQLite under data_dir
    master_key: SecretStr | None = None  # base64 of 32 bytes
    master_key_file: Path | None = None
    rpc_url: str | None = None  # None: the embedded chain under data_dir/chain
    rpc_key_file: Path | None = None  # operator keys for an external chain, one hex key per line
    # The embedded chain in a process of its own (ledger.chain_process) instead of in the gateway's:
    # py-evm then gets a core of its own. Same data dir, same durability. See docs/benchmarks.md.
    chain_process: bool = True
    # Blocks built on a transaction's block before its outcome counts (external chains only;
    # QBFT blocks are final once mined, so 0 suffices there).
    confirmations: int = Field(default=0, ge=0, le=64)
    host: str = "127.0.0.1"
    port: int = 8000
    # peers whose `X-Forwarded-For` names the client's address (JSON list of addresses or networks)
    trusted_proxies: list[str] = []
    # Relayer accounts, each a lane with at most one batch in flight. None: one on the embedded chain
    # (one core executes every batch in turn; a second lane only halves the batches, and each batch
    # costs the chain and the gateway a fixed share), two on an external chain (nodes limit what one
    # sender may hold in their pools).
    relayers: int | None = Field(default=None, ge=1)
    relay_batch: int = 64
    relay_wait_ms: float = 2.0
    pin_attempts: int = 5  # failed sign-ins per voucher before it locks
    source_attempts: int = 30  # failed sign-ins per source address per window
    lockout_s: int = 900
    session_ttl_s: int = 1800
    max_body_bytes: int = 5 * 1024 * 1024  # every request body, app-wide; larger ones get a 413
    idempotency_ttl_s: int = 86_400  # how long a kept `Idempotency-Key` response is replayed
    import_max_rows: int = 200  # clients per CSV import request (each costs an argon2 derivation)
    voucher_sheet_ttl_s: int = 600  # a printable voucher sheet waits this long for its one download
    iati_org_ref: str = "XI-IATI-ALLMENDE"  # the operator's IATI organisation identifier (open data)
    iati_org_name: str = "Allmende"  # the operator's name as the IATI file's reporting organisation
    # The treasury's own bank account, the debtor of every SEPA credit transfer file (pain.001).
    sepa_debtor_name: str = "Allmende Treuhand"
    sepa_debtor_iban: str = "DE89370400440532013000"
    sepa_debtor_bic: str = "COBADEFFXXX"
    # The operator's time zone (IANA name): a counter's day and its daily total run from local midnight.
    timezone: str = "Europe/Berlin"
    public_base_url: str | None = None  # where people reach the pages, e.g. https://hilfe.example.org
    # What providers serve and restricted programs allow. Append only: the position of a key is its
    # bit in the provider registry on chain, so reordering or removing one would change its meaning.
    provider_categories: list[str] = list(DEFAULT_PROVIDER_CATEGORIES)

    @field_validator("provider_categories")
    @classmethod
    def _category_keys(cls, value: list[str]) -> list[str]:
        """1 to 64 distinct keys of lower-case letters, digits and underscores."""
        if not 1 <= len(value) <= 64 or len(set(value)) != len(value):
            raise ValueError("provider_categories must hold 1 to 64 distinct keys")
        for key in value:
            if not CATEGORY_KEY.fullmatch(key):
                raise ValueError(f"provider category {key!r} must be lower-case letters, digits and _")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        """An IANA time zone name the tz database knows, e.g. Europe/Berlin."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"timezone {value!r} is not an IANA time zone name (Europe/Berlin)") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The operator's time zone."""
        return ZoneInfo(self.timezone)

    @field_validator("public_base_url")
    @classmethod
    def _plain_web_address(cls, value: str | None) -> str | None:
        """An http(s) address with a host and nothing after the path (it is printed on vouchers)."""
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("public_base_url must be an http(s) address such as https://hilfe.example.org")
        return value.rstrip("/")

    def check_serving(self) -> None:
        """Refuse to serve in production without the public address: vouchers print it, and a card
        that sends people to the server's own loopback address cannot be used."""
        if self.environment == "production" and self.public_base_url is None:
            raise SettingsError(
                "set ALLMENDE_PUBLIC_BASE_URL to where people reach the pages (it is printed on vouchers)"
            )

    @property
    def sign_in_url(self) -> str:
        """The client sign-in page's address as people type it; a voucher's QR code opens it."""
        base = self.public_base_url or f"http://{self.host}:{self.port}"
        return f"{base.rstrip('/')}/client/sign-in"

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL in use."""
        return self.database_url or f"sqlite:///{self.data_dir / 'gateway.sqlite3'}"

    def load_master_key(self) -> bytes:
        """The 32-byte master key; in development one is created under data_dir on first use."""
        raw: str | None = None
        if self.master_key is not None:
            raw = self.master_key.get_secret_value()
        elif self.master_key_file is not None:
            raw = self.master_key_file.read_text(encoding="utf-8").strip()
        elif self.environment != "production":
            path = self.data_dir / "master.key"
            if not path.exists():
                self.data_dir.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(base64.b64encode(os.urandom(32)).decode())
            raw = path.read_text(encoding="utf-8").strip()
        if raw is None or raw.lower() in PLACEHOLDER_KEYS:
            raise SettingsError("set ALLMENDE_MASTER_KEY or ALLMENDE_MASTER_KEY_FILE to a random 32-byte key")
        try:
            key = base64.b64decode(raw, validate=True)
        except ValueError as exc:
            raise SettingsError("the master key must be base64") from exc
        if len(key) != 32 or len(set(key)) < 8:
            raise SettingsError("the master key must be 32 random bytes (base64)")
        return key


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings."""
    return Settings()
