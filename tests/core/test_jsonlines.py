"""The append-only logs: a line a kill cut short is skipped, and the next event still gets a line of its own."""

from parallel_tune.core import jsonlines


def test_a_cut_line_is_skipped_and_the_next_event_starts_a_line_of_its_own(tmp_path):
    log = tmp_path / "log.jsonl"
    assert jsonlines.read(log) == [], "no log yet"
    jsonlines.append(log, {"a": 1})
    log.write_text(log.read_text() + '{"b": ')  # killed mid-write
    jsonlines.append(log, {"c": 2.5})
    log.write_text(log.read_text() + "[1, 2]\n")  # valid JSON, but not an event
    assert jsonlines.read(log) == [{"a": 1}, {"c": 2.5}]
    assert log.read_text().splitlines()[1] == '{"b": ', "the cut line was left, not glued to the next"
