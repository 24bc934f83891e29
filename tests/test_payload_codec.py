"""The signing codec in process: signatures, rotation, refusals, sealing, and its settings."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from settings import Settings, SettingsError, parse_payload_keys
from workflows.data_converter import RejectedPayload, data_converter
from workflows.payload_codec import (
    ENCRYPTED,
    KEY_ID,
    REJECTED,
    SIGNATURE,
    PayloadKeyRing,
    PayloadRejected,
    SigningCodec,
)
from workflows.payloads import RunInput

SECRET_A = "a" * 32
SECRET_B = "b" * 32


def _codec(keys: str, **options: object) -> SigningCodec:
    return SigningCodec(PayloadKeyRing(parse_payload_keys(keys)), **options)  # type: ignore[arg-type]


def _json(value: object) -> Payload:
    return DataConverter.default.payload_converter.to_payload(value)


def test_a_signed_payload_keeps_its_data_and_encoding() -> None:
    original = _json({"task_id": 7})
    signed = _codec(f"k1:{SECRET_A}").seal(original)
    assert signed.data == original.data
    assert signed.metadata["encoding"] == b"json/plain"
    assert json.loads(signed.data) == {"task_id": 7}
    assert signed.metadata[KEY_ID] == b"k1"
    assert len(signed.metadata[SIGNATURE]) == 32
    assert _codec(f"k1:{SECRET_A}").open(signed) == original


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda p: p.metadata.pop(SIGNATURE), "no signature"),
        (lambda p: setattr(p, "data", b'{"task_id": 8}'), "does not match"),
        (lambda p: p.metadata.__setitem__("encoding", b"binary/plain"), "does not match"),
        (lambda p: p.metadata.__setitem__(KEY_ID, b"k9"), "unknown key id 'k9'"),
    ],
)
def test_a_payload_without_a_valid_signature_is_refused(tamper: object, reason: str) -> None:
    signed = _codec(f"k1:{SECRET_A}").seal(_json({"task_id": 7}))
    tamper(signed)  # type: ignore[operator]
    with pytest.raises(PayloadRejected, match=reason) as refused:
        _codec(f"k1:{SECRET_A}").open(signed)
    assert refused.value.non_retryable
    assert refused.value.type == "UnsignedPayload"


def test_another_secret_under_the_same_key_id_is_refused() -> None:
    forged = _codec(f"k1:{SECRET_B}").seal(_json({"task_id": 7}))
    with pytest.raises(PayloadRejected, match="does not match"):
        _codec(f"k1:{SECRET_A}").open(forged)


def test_rotation_the_first_key_signs_and_every_key_verifies() -> None:
    old = _codec(f"k1:{SECRET_A}").seal(_json("before"))
    rotated = _codec(f"k2:{SECRET_B},k1:{SECRET_A}")
    new = rotated.seal(_json("after"))
    assert new.metadata[KEY_ID] == b"k2"
    assert rotated.open(old) == _json("before")
    assert rotated.open(new) == _json("after")
    # Once the old key is dropped, what it signed is refused.
    with pytest.raises(PayloadRejected, match="unknown key id 'k1'"):
        _codec(f"k2:{SECRET_B}").open(old)


def test_sealed_payloads_hide_their_content_and_open_with_the_key() -> None:
    original = _json({"command": "echo classified"})
    sealing = _codec(f"k1:{SECRET_A}", encrypt=True)
    sealed = sealing.seal(original)
    assert sealed.metadata["encoding"] == ENCRYPTED
    assert b"classified" not in sealed.data
    assert sealing.open(sealed) == original
    # Any codec holding the key opens it, sealing or not (turning encryption off is safe).
    assert _codec(f"k1:{SECRET_A}").open(sealed) == original
    assert sealing.readable(sealed) == original
    flipped = bytearray(sealed.data)
    flipped[-1] ^= 1
    sealed.data = bytes(flipped)
    with pytest.raises(PayloadRejected):
        sealing.open(sealed)


def test_unsigned_payloads_are_accepted_only_inside_the_upgrade_window() -> None:
    unsigned = _json({"task_id": 7})
    now = datetime(2026, 1, 1, tzinfo=UTC)
    window = {"accept_unsigned_until": now + timedelta(hours=1)}
    assert _codec(f"k1:{SECRET_A}", clock=lambda: now, **window).open(unsigned) == unsigned
    later = now + timedelta(hours=2)
    with pytest.raises(PayloadRejected, match="no signature"):
        _codec(f"k1:{SECRET_A}", clock=lambda: later, **window).open(unsigned)
    # The window never excuses a wrong signature.
    forged = _codec(f"k1:{SECRET_B}").seal(unsigned)
    with pytest.raises(PayloadRejected, match="does not match"):
        _codec(f"k1:{SECRET_A}", clock=lambda: now, **window).open(forged)


def test_an_executor_converter_turns_a_refusal_into_a_rejected_value(tmp_path: Path) -> None:
    settings = Settings.from_env({"SCHEDULER_DATA_DIR": str(tmp_path)})
    executor = data_converter(settings, mark_rejected=True)

    async def roundtrip() -> tuple[list[object], list[object]]:
        signed = await data_converter(settings).encode([RunInput(task_id=3)])
        unsigned = await DataConverter.default.encode([RunInput(task_id=3)])
        return (
            await executor.decode(signed, [RunInput]),
            await executor.decode(unsigned, [RunInput]),
        )

    good, bad = asyncio.run(roundtrip())
    assert good == [RunInput(task_id=3)]
    assert bad == [RejectedPayload("it carries no signature")]
    marked = _codec(f"k1:{SECRET_A}", mark_rejected=True).open(_json(1))
    assert marked.metadata["encoding"] == REJECTED


def test_the_payload_key_is_generated_once_into_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({"SCHEDULER_DATA_DIR": str(tmp_path)})
    [key] = settings.payload_keys
    assert key.kid == "k1"
    assert len(key.secret) >= 32
    assert (tmp_path / "payload_key").stat().st_mode & 0o777 == 0o600
    again = Settings.from_env({"SCHEDULER_DATA_DIR": str(tmp_path)})
    assert again.payload_keys == settings.payload_keys
    assert key.secret not in repr(settings)


def test_configured_payload_keys_and_temporal_connection_settings(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "SCHEDULER_DATA_DIR": str(tmp_path),
            "SCHEDULER_PAYLOAD_KEY": f"2026-06:{SECRET_B}, 2026-01:{SECRET_A}",
            "SCHEDULER_PAYLOAD_ENCRYPTION": "1",
            "SCHEDULER_PAYLOAD_ACCEPT_UNSIGNED_UNTIL": "2026-12-01T12:00:00Z",
            "TEMPORAL_TLS_CA": "/etc/temporal/ca.pem",
            "TEMPORAL_TLS_CERT": "/etc/temporal/client.pem",
            "TEMPORAL_TLS_KEY": "/etc/temporal/client.key",
            "TEMPORAL_API_KEY": "cloud-key",
        }
    )
    assert [key.kid for key in settings.payload_keys] == ["2026-06", "2026-01"]
    assert not (tmp_path / "payload_key").exists()
    assert settings.payload_encryption is True
    assert settings.payload_accept_unsigned_until == datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert settings.temporal_tls_cert == "/etc/temporal/client.pem"
    assert settings.temporal_api_key == "cloud-key"
    assert "cloud-key" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SCHEDULER_PAYLOAD_KEY", "no-colon", "kid:secret"),
        ("SCHEDULER_PAYLOAD_KEY", "k1:short", "at least 16"),
        ("SCHEDULER_PAYLOAD_KEY", f"k1:{SECRET_A},k1:{SECRET_B}", "twice"),
        ("SCHEDULER_PAYLOAD_KEY", f"k 1:{SECRET_A}", "letters, digits"),
        ("SCHEDULER_PAYLOAD_ACCEPT_UNSIGNED_UNTIL", "tomorrow", "RFC 3339"),
        ("SCHEDULER_PAYLOAD_ACCEPT_UNSIGNED_UNTIL", "2026-12-01T12:00:00", "time zone"),
        ("TEMPORAL_TLS_CERT", "/etc/client.pem", "together"),
    ],
)
def test_bad_boundary_settings_are_refused(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"SCHEDULER_DATA_DIR": str(tmp_path), name: value})
