import gzip

import numpy as np
import pytest

from simulators.validation import ConfigError
from wirelessrl.data.mnist import (
    MNIST_FILES,
    MNIST_MEAN,
    MNIST_STD,
    SPLIT_PARTS,
    find_mnist_files,
    load_mnist_018,
    make_fake_mnist,
    preprocess_images,
    read_idx,
    resize_images,
    split_counts,
    split_indices,
    split_mnist_018,
    write_idx,
)

N_018 = 18_516  # training images of digits 0/1/8 in real MNIST (5,923 + 6,742 + 5,851)


# --------------------------------------------------------------------------- IDX files


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28).astype(np.uint8),
        np.array([5, 0, 4, 1, 9], dtype=np.uint8),
        np.array([[-3, 7], [2**31 - 1, -(2**31)]], dtype=np.int32),
        np.linspace(-1, 1, 6).reshape(3, 2),
        np.array([-128, 127], dtype=np.int8),
    ],
    ids=["images", "labels", "int32", "float64", "int8"],
)
def test_idx_round_trip(tmp_path, array, suffix):
    path = write_idx(tmp_path / f"a-idx-ubyte{suffix}", array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable


def test_idx_header_is_standard_mnist_layout(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((3, 28, 28), dtype=np.uint8))
    raw = path.read_bytes()
    assert raw[:16] == bytes.fromhex("00000803000000030000001c0000001c")
    assert len(raw) == 16 + 3 * 784


def test_gzip_recognized_from_content_and_reproducible(tmp_path):
    labels = np.array([1, 8, 0], dtype=np.uint8)
    a = write_idx(tmp_path / "a.gz", labels)
    b = write_idx(tmp_path / "b.gz", labels)
    assert a.read_bytes() == b.read_bytes()  # no name, mtime 0: reproducible
    renamed = tmp_path / "no-suffix"
    renamed.write_bytes(a.read_bytes())
    np.testing.assert_array_equal(read_idx(renamed), labels)


def test_bad_magic_rejected(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(ConfigError, match="bad magic number 0x504b0304") as err:
        read_idx(path)
    assert str(path) in str(err.value) and "0x08 unsigned byte" in str(err.value)


def test_unknown_type_code_rejected(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(bytes.fromhex("00000a0100000001") + b"\x00")
    with pytest.raises(ConfigError, match="bad magic number 0x00000a01"):
        read_idx(path)


def test_truncated_file_rejected(tmp_path):
    path = write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((4, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ConfigError, match="truncated file") as err:
        read_idx(path)
    msg = str(err.value)
    assert str(path) in msg and f"holds {16 + 4 * 784 - 10} bytes" in msg
    assert "shape (4, 28, 28)" in msg


def test_truncated_header_rejected(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(bytes.fromhex("000008030000"))
    with pytest.raises(ConfigError, match="declares 3 dimensions.*truncated"):
        read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(ConfigError, match="holds 2 bytes.*truncated"):
        read_idx(path)


def test_trailing_bytes_rejected(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros(5, np.uint8))
    path.write_bytes(path.read_bytes() + b"\x00")
    with pytest.raises(ConfigError, match="trailing bytes"):
        read_idx(path)
    gz = tmp_path / "x.gz"
    gz.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
    with pytest.raises(ConfigError, match="trailing bytes"):
        read_idx(gz)


def test_truncated_gzip_rejected(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.arange(5000, dtype=np.int32))
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ConfigError, match="truncated") as err:
        read_idx(path)
    assert str(path) in str(err.value)


def test_gzip_holding_short_data_rejected(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(bytes.fromhex("0000080100000010") + bytes(3), mtime=0))
    with pytest.raises(ConfigError, match="data ends after 11 bytes.*truncated"):
        read_idx(path)


def test_missing_idx_file_rejected(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_idx(tmp_path / "nope")


@pytest.mark.parametrize("dtype", [np.int64, np.bool_, np.complex64])
def test_write_idx_rejects_dtype(tmp_path, dtype):
    with pytest.raises(ConfigError, match="dtype=.*expected one of uint8"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=dtype))
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- finding files


def test_missing_files_message_lists_the_four_names(tmp_path):
    with pytest.raises(ConfigError) as err:
        find_mnist_files(tmp_path)
    msg = str(err.value)
    assert str(tmp_path) in msg and "never downloads" in msg
    for name in MNIST_FILES.values():
        assert name in msg


def test_one_missing_file_is_named(tmp_path):
    files = make_fake_mnist(tmp_path, n_train=20, n_test=10, seed=0)
    files["test_labels"].unlink()
    with pytest.raises(ConfigError, match="is missing t10k-labels-idx1-ubyte\\. MNIST needs"):
        find_mnist_files(tmp_path)


def test_missing_directory_rejected(tmp_path):
    with pytest.raises(ConfigError, match="does not exist.*never downloads"):
        find_mnist_files(tmp_path / "absent")


def test_dotted_gz_and_torchvision_layouts_found(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    labels = np.array([1, 8], dtype=np.uint8)
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    write_idx(raw / "train-images.idx3-ubyte", images)
    write_idx(raw / "train-labels.idx1-ubyte.gz", labels)
    write_idx(raw / "t10k-images-idx3-ubyte.gz", images)
    write_idx(raw / "t10k-labels-idx1-ubyte", labels)
    files = find_mnist_files(tmp_path)
    assert files["train_images"].name == "train-images.idx3-ubyte"
    assert files["train_labels"].name == "train-labels.idx1-ubyte.gz"
    assert files["test_images"].name == "t10k-images-idx3-ubyte.gz"


def test_fake_mnist_is_seeded_and_has_every_digit(tmp_path):
    a = make_fake_mnist(tmp_path / "a", n_train=30, n_test=12, seed=4, compress=True)
    b = make_fake_mnist(tmp_path / "b", n_train=30, n_test=12, seed=4, compress=True)
    for key in MNIST_FILES:
        assert a[key].name.endswith(".gz") and a[key].read_bytes() == b[key].read_bytes()
    assert set(read_idx(a["train_labels"])) == set(range(10))
    assert read_idx(a["test_images"]).shape == (12, 28, 28)


# --------------------------------------------------------------------------- images


def test_resize_shape_and_constant_image():
    out = resize_images(np.full((3, 28, 28), 137, dtype=np.uint8))
    assert out.shape == (3, 10, 10) and out.dtype == np.uint8
    assert np.all(out == 137)


def test_resize_keeps_left_right_structure():
    img = np.zeros((1, 28, 28), dtype=np.uint8)
    img[:, :, :14] = 255
    out = resize_images(img)[0]
    assert np.all(out[:, :4] == 255) and np.all(out[:, 6:] == 0)
    assert np.all(np.diff(out[0].astype(int)) <= 0)


def test_resize_matches_pil_bilinear_reference():
    image_mod = pytest.importorskip("PIL.Image")
    imgs = np.random.default_rng(0).integers(0, 256, (8, 28, 28), dtype=np.uint8)
    ref = np.stack(
        [np.asarray(image_mod.fromarray(a).resize((10, 10), image_mod.BILINEAR)) for a in imgs]
    )
    assert np.abs(resize_images(imgs).astype(int) - ref).max() <= 1


def test_preprocess_normalization():
    imgs = np.zeros((2, 28, 28), dtype=np.uint8)
    imgs[1] = 255
    x = preprocess_images(imgs)
    assert x.shape == (2, 100) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], -MNIST_MEAN / MNIST_STD, rtol=1e-6)
    np.testing.assert_allclose(x[1], (1 - MNIST_MEAN) / MNIST_STD, rtol=1e-6)


def test_resize_rejects_float_images():
    with pytest.raises(ConfigError, match="expected \\[n, height, width\\] uint8"):
        resize_images(np.zeros((1, 28, 28), dtype=np.float32))


# --------------------------------------------------------------------------- loading


def test_load_filters_digits_and_preprocesses(tmp_path):
    files = make_fake_mnist(tmp_path, n_train=60, n_test=30, seed=2)
    train_labels = read_idx(files["train_labels"])
    data = load_mnist_018(tmp_path)
    keep = np.flatnonzero(np.isin(train_labels, [0, 1, 8]))
    assert set(np.unique(data["train_y"])) == {0, 1, 8}
    np.testing.assert_array_equal(data["train_index"], keep)
    np.testing.assert_array_equal(data["train_y"], train_labels[keep])
    assert data["train_x"].shape == (keep.size, 100) and data["train_x"].dtype == np.float32
    test_labels = read_idx(files["test_labels"])
    assert len(data["test_y"]) == np.isin(test_labels, [0, 1, 8]).sum()
    # the fake images carry a bar at column 4 + 2 * digit: resized pixels agree with it
    x = data["train_x"].reshape(-1, 10, 10)
    ones = x[data["train_y"] == 1]
    assert ones[:, 5, 2].mean() > ones[:, 5, 8].mean()


def test_load_rejects_label_count_mismatch(tmp_path):
    files = make_fake_mnist(tmp_path, n_train=20, n_test=10, seed=0)
    write_idx(files["train_labels"], np.zeros(19, dtype=np.uint8))
    with pytest.raises(ConfigError, match="holds 19 labels but train-images-idx3-ubyte holds 20"):
        load_mnist_018(tmp_path)


def test_load_rejects_swapped_files(tmp_path):
    files = make_fake_mnist(tmp_path, n_train=20, n_test=10, seed=0)
    write_idx(files["test_images"], np.zeros(10, dtype=np.uint8))
    with pytest.raises(ConfigError, match="t10k-images-idx3-ubyte.*expected uint8 images"):
        load_mnist_018(tmp_path)


# --------------------------------------------------------------------------- splits


def test_split_counts_match_paper_for_18516():
    a, b = split_counts(N_018, "A"), split_counts(N_018, "B")
    assert (a["source_train"], a["target_train"]) == (12_313, 92)
    assert (b["source_train"], b["target_train"]) == (11_664, 926)
    # pools 17,590 / 926 (A) and 16,664 / 1,852 (B): every fraction rounded down
    assert a == {
        "source_train": 12_313,
        "source_valid": 5_277,
        "target_train": 92,
        "target_valid": 834,
    }
    assert b == {
        "source_train": 11_664,
        "source_valid": 5_000,
        "target_train": 926,
        "target_valid": 926,
    }


@pytest.mark.parametrize(
    ("split", "source_train", "target_train"), [("A", 12_313, 92), ("B", 11_664, 926)]
)
def test_split_of_synthetic_18516_labels(split, source_train, target_train):
    digits = np.resize(np.array([0, 1, 8]), N_018)
    data = {
        "train_x": digits[:, None].astype(np.float32),  # the feature is the digit itself
        "train_y": digits,
        "test_x": np.zeros((3_089, 1), np.float32),
        "test_y": np.resize(np.array([8, 1, 0]), 3_089),
    }
    s = split_mnist_018(data, split=split, seed=7)
    counts = s.counts()
    assert (counts["source_train"], counts["target_train"]) == (source_train, target_train)
    assert counts["test"] == 3_089 and sum(counts.values()) == N_018 + 3_089
    assert (s.split, s.seed) == (split, 7)
    for part in SPLIT_PARTS[:4]:
        x, y = s.arrays(part)["x"][:, 0], s.arrays(part)["y"]
        assert y.dtype == np.float32
        np.testing.assert_array_equal(y, x == (1 if part.startswith("source") else 8))
    np.testing.assert_array_equal(s.test_y, data["test_y"] == 8)


def test_split_indices_seeded_disjoint_and_complete():
    a = split_indices(N_018, "A", seed=1)
    again = split_indices(N_018, "A", seed=1)
    other = split_indices(N_018, "A", seed=2)
    joined = np.concatenate(list(a.values()))
    np.testing.assert_array_equal(np.sort(joined), np.arange(N_018))
    for part in a:
        np.testing.assert_array_equal(a[part], again[part])
    assert not np.array_equal(a["target_train"], other["target_train"])


def test_split_leaving_a_part_empty_rejected():
    with pytest.raises(ConfigError, match="n_train=100 .*target_train empty.*at least 181 "):
        split_counts(100, "A")


def test_unknown_split_rejected():
    with pytest.raises(ConfigError, match="split='C' is invalid; expected one of A, B"):
        split_counts(N_018, "C")


def test_end_to_end_on_fake_mnist(tmp_path):
    make_fake_mnist(tmp_path, n_train=1000, n_test=50, seed=0, compress=True)
    s = split_mnist_018(load_mnist_018(tmp_path), split="A", seed=0)
    counts = s.counts()
    assert min(counts.values()) >= 1
    assert s.target_train_x.shape == (counts["target_train"], 100)
    assert set(np.unique(s.test_digits)) <= {0, 1, 8}
