"""The batch layer: results in input order, each written where it belongs; complete folders skipped with
--resume, existing ones never replaced without --overwrite, and only the inputs left given to the executor."""

from __future__ import annotations

from dataclasses import dataclass, field

from fqselect.options import Options
from fqselect.output.manifest import is_complete, read_picks
from fqselect.run.batch import Local, run_batch, select_many

from test_output import result_with_picks


@dataclass
class FakeExecutor:
    """Answers every input with two picks (or a failure for names with 'bad'), and records what it was given."""

    given: list[str] = field(default_factory=list)

    def map(self, paths, options, progress=None, on_start=None):
        for path in paths:
            self.given.append(path)
            if on_start:
                on_start(path)
            result = result_with_picks()
            result.input = path
            if "bad" in path:
                result.status, result.error, result.picks = "failed", "cannot read", []
            yield result


def test_results_come_in_input_order_and_are_written(tmp_path):
    executor = FakeExecutor()
    results = list(run_batch(["a.mp4", "bad.mp4", "c.mp4"], Options(), tmp_path, executor))
    assert [(r.input, r.status) for r in results] == [("a.mp4", "ok"), ("bad.mp4", "failed"), ("c.mp4", "ok")]
    assert is_complete(tmp_path / "a") and is_complete(tmp_path / "c") and not (tmp_path / "bad").exists()
    assert results[0].output_dir == str(tmp_path / "a")


def test_resume_skips_complete_folders_and_gives_their_picks_again(tmp_path):
    list(run_batch(["a.mp4"], Options(), tmp_path, FakeExecutor()))
    executor = FakeExecutor()
    results = list(run_batch(["a.mp4", "b.mp4"], Options(), tmp_path, executor, resume=True))
    assert executor.given == ["b.mp4"]
    assert [r.status for r in results] == ["skipped", "ok"]
    assert [p.frame for p in results[0].picks] == [r["frame"] for r in read_picks(tmp_path / "a")]


def test_an_existing_folder_fails_its_input_before_any_work_and_the_others_run(tmp_path):
    (tmp_path / "a").mkdir()
    executor = FakeExecutor()
    results = list(run_batch(["a.mp4", "b.mp4"], Options(), tmp_path, executor))
    assert executor.given == ["b.mp4"]
    assert results[0].status == "failed" and "exists" in results[0].error
    assert results[1].status == "ok"


def test_overwrite_runs_and_replaces_an_existing_folder(tmp_path):
    (tmp_path / "a").mkdir()
    results = list(run_batch(["a.mp4"], Options(), tmp_path, FakeExecutor(), overwrite=True))
    assert results[0].status == "ok" and is_complete(tmp_path / "a")


def test_without_out_nothing_is_written(tmp_path):
    results = list(select_many(["a.mp4"], Options(), FakeExecutor()))
    assert results[0].status == "ok" and results[0].output_dir is None


def test_the_local_executor_reports_a_missing_input_as_failed(tmp_path):
    started = []
    (result,) = Local().map([str(tmp_path / "gone.mp4")], Options(), on_start=started.append)
    assert result.status == "failed" and "no such file" in result.error
    assert started == [str(tmp_path / "gone.mp4")]
