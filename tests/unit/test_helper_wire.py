"""The helper processes' wire without processes: frames split at their boundaries, errors rebuilt as their type."""

from __future__ import annotations

import pytest

from advisor.application.evaluate import ProfileError
from advisor.workers.process import ErrorTypes, frame, split_frames


def test_frames_split_only_when_complete_and_leave_the_rest() -> None:
    stream = frame(b"one") + frame(b"") + frame(b"three") + frame(b"four")
    buffer = bytearray(stream[:-2])
    assert split_frames(buffer) == [b"one", b"", b"three"]
    assert bytes(buffer) == stream[len(frame(b"one") + frame(b"") + frame(b"three")):-2]
    buffer += stream[-2:]
    assert split_frames(buffer) == [b"four"]
    assert buffer == bytearray()


def test_a_registered_error_is_rebuilt_as_its_type_with_its_attributes() -> None:
    errors = ErrorTypes(ProfileError)
    sent = ProfileError("assumptions.catalog", "no such catalog", status=400)
    encoded = errors.encode(sent)
    assert encoded is not None
    got = errors.decode(encoded)
    assert isinstance(got, ProfileError)
    assert (got.field, got.message, got.status, str(got)) == (sent.field, sent.message, 400, str(sent))


def test_an_unregistered_error_is_not_encoded_and_names_must_be_unique() -> None:
    assert ErrorTypes(ProfileError).encode(KeyError("x")) is None

    class ProfileError2(ValueError):
        pass

    ProfileError2.__name__ = "ProfileError"
    with pytest.raises(ValueError, match="two error types named ProfileError"):
        ErrorTypes(ProfileError, ProfileError2)
