"""--per-person on a generated clip of two different people, and --gallery labelling."""

import json

import cv2
import numpy as np
import pytest

from conftest import json_lines, run_cli


@pytest.fixture(scope="module")
def people_clip(tmp_path_factory, make_example):
    path = tmp_path_factory.mktemp("people") / "people.mp4"
    return path, make_example.make_people_clip(path)


def person_of(record, table) -> str:
    centre = (record["bbox"][0] + record["bbox"][2]) / 2
    return "A" if abs(centre - table["A"]["x"]) < abs(centre - table["B"]["x"]) else "B"


@pytest.mark.parametrize("mode", [[], ["--exhaustive"]])
def test_each_person_gets_their_own_best_frames(people_clip, mode):
    path, table = people_clip
    proc = run_cli(path, "--per-person", "--jsonl", "--top", "2", "--min-gap", "0", *mode)
    assert proc.returncode == 0, proc.stderr
    records = json_lines(proc.stdout)
    persons = {r["person"] for r in records}
    assert persons == {0, 1}, records
    for person in persons:
        mine = [r for r in records if r["person"] == person]
        who = {person_of(r, table) for r in mine}
        assert len(who) == 1  # people are not mixed
        name = who.pop()
        assert [r["rank"] for r in mine] == [1, 2]
        assert mine[0]["frame"] in table[name]["sharp"]  # the person's sharp moment wins
        assert all(r["frame"] in table[name]["frames"] for r in mine)
    first = [r for r in records if r["person"] == 0]
    assert person_of(first[0], table) == "A"  # ids follow first appearance: stable across runs


def test_manifest_lists_persons_with_embeddings(people_clip, tmp_path):
    path, table = people_clip
    proc = run_cli(path, "--per-person", "--out", tmp_path, "--embeddings", "-q")
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "people" / "manifest.json").read_text())
    persons = manifest["persons"]
    assert [p["id"] for p in persons] == [0, 1]
    a, b = persons
    # first and last of the frames analysed whole: a window's sharpest, one a second by default
    assert a["first_time"] <= 1.0 and a["last_time"] == pytest.approx(2.9, abs=1.0)
    assert b["first_time"] == pytest.approx(1.0, abs=1.0)
    assert a["faces_seen"] >= 3 and b["faces_seen"] >= 3
    for person in persons:
        assert person["selected"] and all(s["frame_file"].split("/")[-1].startswith(f"p{person['id']:02d}_r") for s in person["selected"])
    ea, eb = (np.load(tmp_path / "people" / p["embedding_file"]) for p in persons)
    assert float(ea @ eb) < 0.38  # two different people


def test_gallery_names_the_known_person(people_clip, make_example, tmp_path):
    path, _ = people_clip
    a, _ = make_example.face_patches(make_example.sample_photo(), 2)
    known = tmp_path / "gallery" / "alice"
    known.mkdir(parents=True)
    cv2.imwrite(str(known / "1.png"), cv2.copyMakeBorder(a, 60, 60, 60, 60, cv2.BORDER_CONSTANT, value=(90, 90, 90)))
    records = json_lines(run_cli(path, "--gallery", tmp_path / "gallery", "--jsonl", "--top", "1").stdout)
    names = {r["person"]: r["identity"] for r in records}
    assert names == {0: "alice", 1: "unknown"}
    similarity = {r["person"]: r["similarity"] for r in records}  # in every record
    assert similarity[0] >= 0.38 > similarity[1]
    strict = json_lines(run_cli(path, "--gallery", tmp_path / "gallery", "--jsonl", "--top", "1",
                                "--match-threshold", str(min(0.99, similarity[0] + 0.01))).stdout)
    assert {r["identity"] for r in strict} == {"unknown"}  # above alice's own similarity: nobody is named


def tracking_clip(tmp_path_factory, make_example, kind):
    path = tmp_path_factory.mktemp(kind) / f"{kind}.mp4"
    return path, make_example.make_tracking_clip(path, kind)


@pytest.fixture(scope="module")
def overlap_clip(tmp_path_factory, make_example):
    return tracking_clip(tmp_path_factory, make_example, "overlap")


@pytest.fixture(scope="module")
def cross_clip(tmp_path_factory, make_example):
    return tracking_clip(tmp_path_factory, make_example, "cross")


def who_is_at(record, table) -> str:
    """The name of the face nearest the pick's box centre in its frame."""
    centre = (record["bbox"][0] + record["bbox"][2]) / 2
    return min(table["faces"][record["frame"]], key=lambda face: abs(face[1] - centre))[0]


def persons_of(path, *options):
    proc = run_cli(path, "--per-person", "--jsonl", "--min-gap", "0", *options)
    assert proc.returncode == 0, proc.stderr
    return json_lines(proc.stdout)


@pytest.mark.parametrize("mode", [[], ["--exhaustive"]])
def test_a_track_that_resumes_with_an_overlap_is_one_person(overlap_clip, mode):
    path, _ = overlap_clip
    records = persons_of(path, "--top", "3", *mode)
    assert {r["person"] for r in records} == {0}
    assert len(records) == 3


@pytest.mark.parametrize("mode", [[], ["--exhaustive"]])
def test_two_people_crossing_stay_two_people(cross_clip, mode):
    path, table = cross_clip
    records = persons_of(path, "--top", "3", *mode)
    assert {r["person"] for r in records} == {0, 1}
    names = {person: {who_is_at(r, table) for r in records if r["person"] == person} for person in (0, 1)}
    assert set(map(frozenset, names.values())) == {frozenset("A"), frozenset("B")}, records


@pytest.mark.parametrize("clip", ["cross_clip", "people_clip"])
def test_person_ids_do_not_depend_on_top(clip, request, tmp_path):
    """The same persons, with the same ids, first and last times, whatever --top asks for."""
    path, _ = request.getfixturevalue(clip)
    manifests = []
    for top in (1, 3):
        out = tmp_path / f"top{top}"
        assert run_cli(path, "--per-person", "--top", str(top), "--out", out, "-q").returncode == 0
        manifest = json.loads((out / path.stem / "manifest.json").read_text())
        manifests.append([(p["id"], p["first_time"], p["last_time"]) for p in manifest["persons"]])
    assert manifests[0] == manifests[1]


def test_persons_the_gallery_names_alike_are_one_person():
    """Two tracks too unlike to merge (a bad template), both named A by the gallery: one person."""
    from fqselect.choose.persons import PersonTracker
    from fqselect.records import Pick
    from fqselect.choose.topk import Candidate

    class Recognizer:
        points = {"match": 0.38, "link": 0.5, "link_min": 0.2}

        def embed(self, crops):
            return crops.reshape(len(crops), -1)[:, :4].astype(np.float32)  # the crop carries its embedding

    class Gallery:
        def label(self, template):
            return ("A", 0.6) if template[0] > 0.4 else ("unknown", 0.1)

    def face(frame, x, embedding, quality):
        crop = np.zeros((1, 4), np.float32)
        crop[0] = embedding
        pick = Pick(source="s", frame=frame, time=frame / 10, bbox=[x, 0, x + 100, 100], landmarks=[], det_score=0.9,
                    quality=quality, crop=crop)
        return Candidate(quality, frame / 10, order=frame * 1000, payload=pick)

    tracker = PersonTracker(top=2, min_gap=0.0, min_quality=0.0, recognizer=Recognizer())
    tracker.update([face(0, 0, [1, 0, 0, 0], 0.9), face(0, 300, [0, 0, 1, 0], 0.8)])
    tracker.update([face(50, 500, [0.45, 0.893, 0, 0], 0.7)])  # A again, 5 s later, elsewhere, too unlike to link
    persons = tracker.persons(Gallery())
    assert [(p.id, p.identity, p.faces_seen) for p in persons] == [(0, "A", 2), (1, "unknown", 1)]
    assert [c.payload.frame for c in persons[0].picks] == [0, 50]


def test_a_track_unseen_past_the_timeout_continues_only_by_likeness():
    """A live stream's analysis may skip to keyframes seconds apart: the same face continues its track,
    another face at the same place does not (nor, past place_gap, one that replaces a person at their
    spot), and a track unseen too long ends at the next frame."""
    from fqselect.choose.persons import PersonTracker
    from fqselect.choose.topk import Candidate
    from fqselect.records import Pick

    class Recognizer:
        points = {"match": 0.38, "link": 0.5, "link_min": 0.2}

        def embed(self, crops):
            return crops.reshape(len(crops), -1)[:, :4].astype(np.float32)

    def face(time, embedding):
        crop = np.zeros((1, 4), np.float32)
        crop[0] = embedding
        pick = Pick(source="s", frame=int(time * 10), time=time, bbox=[0, 0, 100, 100], landmarks=[], det_score=0.9,
                    quality=0.9, crop=crop)
        return Candidate(0.9, time, order=int(time * 1000), payload=pick)

    replaced = PersonTracker(top=2, min_gap=0.0, min_quality=0.0, recognizer=Recognizer(), timeout=2.0, place_gap=1.0)
    [first] = replaced.update([face(0.0, [1, 0, 0, 0])])
    [second] = replaced.update([face(1.5, [0, 1, 0, 0])])  # 1.5 s later, the same spot, someone else
    assert second is not first and replaced.active == [first, second]

    tracker = PersonTracker(top=2, min_gap=0.0, min_quality=0.0, recognizer=Recognizer(), timeout=1.0)
    [a] = tracker.update([face(0.0, [1, 0, 0, 0])])
    assert tracker.update([face(3.0, [0.9, 0.436, 0, 0])]) == [a]  # 3 s later, alike: the same track
    [b] = tracker.update([face(6.0, [0, 1, 0, 0])])  # 3 s later, same place, someone else
    assert b is not a and tracker.finished == [a] and tracker.active == [b]
    assert tracker.expire(6.5) == [] and tracker.expire(7.5) == [b]
