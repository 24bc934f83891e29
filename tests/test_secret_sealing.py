"""Secret values at rest and in output: sealing across a key rotation, and masking."""

from __future__ import annotations

import pytest

from domain.secret_refs import Masker, references, substitute
from persistence.secret_sealing import SecretSealer, SecretUnreadable
from settings import PayloadKey

OLD, NEW = PayloadKey("k1", "old-secret"), PayloadKey("k2", "new-secret")


def test_a_value_sealed_before_a_rotation_still_opens_and_new_ones_use_the_new_key() -> None:
    kid, sealed = SecretSealer([OLD]).seal("TOKEN", "v4lue")
    assert kid == "k1" and b"v4lue" not in sealed
    rotated = SecretSealer([NEW, OLD])
    assert rotated.open("TOKEN", kid, sealed) == "v4lue"
    assert rotated.seal("TOKEN", "v4lue")[0] == "k2"
    with pytest.raises(SecretUnreadable, match="k1"):
        SecretSealer([NEW]).open("TOKEN", kid, sealed)


def test_a_ciphertext_moved_to_another_name_does_not_open() -> None:
    sealer = SecretSealer([OLD])
    kid, sealed = sealer.seal("TOKEN", "v4lue")
    with pytest.raises(SecretUnreadable):
        sealer.open("OTHER", kid, sealed)


def test_masking_covers_the_value_and_its_url_encodings_longest_first() -> None:
    mask = Masker(["a b&c", "a b&c-longer", ""])
    assert mask("x a b&c-longer y a b&c z") == "x *** y *** z"
    assert mask("?k=a+b%26c&j=a%20b%26c") == "?k=***&j=***"
    assert not Masker([""]) and Masker(["v"])


def test_references_are_found_and_substituted_where_they_may_stand() -> None:
    parameters = {
        "url": "https://example.com",
        "headers": {"Authorization": {"secret": "AUTH"}, "X": "plain"},
        "query": {"k": {"secret": "KEY"}},
        "body": {"secret": "BODY"},
    }
    assert sorted(references(parameters)) == [
        ("parameters.body", "BODY"),
        ("parameters.headers.Authorization", "AUTH"),
        ("parameters.query.k", "KEY"),
    ]
    resolved = substitute(parameters, {"AUTH": "a", "KEY": "k", "BODY": "b"})
    assert resolved["headers"] == {"Authorization": "a", "X": "plain"}
    assert resolved["query"] == {"k": "k"} and resolved["body"] == "b"
    assert parameters["body"] == {"secret": "BODY"}  # the input is left as it was
