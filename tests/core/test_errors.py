"""One line of a library's message: what every exit-2 error keeps."""

from parallel_tune.core.errors import UsageError, first_line


def test_first_line_keeps_one_non_empty_line():
    assert first_line(ValueError("\n  bad thing happened  \nTraceback ...")) == "bad thing happened"
    assert first_line(KeyError()) == "KeyError"
    assert len(first_line(RuntimeError("x" * 1000))) == 300


def test_usage_errors_are_exceptions_a_cli_catches():
    assert issubclass(UsageError, Exception)
