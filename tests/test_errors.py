"""emgpipe's exceptions survive a process boundary (pickling) with their message."""
import inspect
import pickle

import pytest

import emgpipe.errors as errors

CLASSES = [c for _, c in inspect.getmembers(errors, inspect.isclass) if issubclass(c, errors.EmgpipeError)]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_error_pickles_with_its_message(cls):
    err = cls("night.csv", "line 17: column 'ch2' is not a number") if issubclass(cls, errors.RecordingError) \
        else cls("COM3: no device answered")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls and str(back) == str(err) and back.exit_code == err.exit_code
    if isinstance(err, errors.RecordingError):
        assert (back.path, back.problem) == ("night.csv", "line 17: column 'ch2' is not a number")
