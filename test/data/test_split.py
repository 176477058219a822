from geolid.data.split import split_data_dir
from geolid.utils.fileio import read_kaldi_map, write_kaldi_map


def test_split_keeps_set_name_and_partitions(tmp_path):
    src = tmp_path / "test_fleurs_lang"
    utts = [f"eng_{i:02d}" for i in range(5)] + [f"fra_{i:02d}" for i in range(4)]
    write_kaldi_map(src / "wav.scp", {u: f"/a/{u}.wav" for u in utts})
    write_kaldi_map(src / "utt2lang", {u: u[:3] for u in utts})
    parts = split_data_dir(src, 4, tmp_path / "split")
    assert [p.relative_to(tmp_path / "split").as_posix() for p in parts] == [
        f"{k}/test_fleurs_lang" for k in (1, 2, 3, 4)]
    seen = []
    for p in parts:
        wav, labels = read_kaldi_map(p / "wav.scp"), read_kaldi_map(p / "utt2lang")
        assert list(wav) == list(labels) and all(labels[u] == u[:3] for u in labels)
        seen += list(wav)
    assert seen == sorted(utts)
    assert len(split_data_dir(src, 20, tmp_path / "split2")) == 9
