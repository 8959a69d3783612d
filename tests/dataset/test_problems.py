"""problems.py: how a problem with the input reads, and the capped listing of them."""
import io

from midi_extractor.dataset.problems import Problem, print_problems


def test_a_problem_reads_severity_file_and_what_is_wrong():
    assert str(Problem("a/metadata.yaml", "malformed")) == "warning: a/metadata.yaml: malformed"
    assert str(Problem("b.mid", "truncated", "error")) == "error: b.mid: truncated"


def test_print_problems_stops_at_the_limit_and_counts_the_rest():
    stream = io.StringIO()
    print_problems([Problem(f"f{k}", "bad", "error") for k in range(5)], stream=stream, limit=3)
    assert stream.getvalue().splitlines() == ["error: f0: bad", "error: f1: bad", "error: f2: bad",
                                              "... and 2 more problems"]
    stream = io.StringIO()
    print_problems([Problem("f", "bad")], stream=stream)
    assert stream.getvalue() == "warning: f: bad\n"
